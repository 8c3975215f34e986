// Process-wide helpers: the BPF filesystem, interface indexes (optionally inside a netns), CPU count, unpinning.
#include <linux/magic.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/vfs.h>
#include <unistd.h>

#include <cerrno>
#include <thread>

#include "common.h"

namespace tollgate {

static constexpr const char *kBpffs = "/sys/fs/bpf";

// Returns true when it mounted the filesystem, false when it was already there.
static Napi::Value EnsureBpffs(const Napi::CallbackInfo &info)
{
	Napi::Env env = info.Env();
	struct statfs st;
	if (statfs(kBpffs, &st) == 0 && static_cast<unsigned long>(st.f_type) == BPF_FS_MAGIC)
		return Napi::Boolean::New(env, false);
	if (statfs(kBpffs, &st) < 0 && errno == ENOENT && mkdir(kBpffs, 0700) < 0 && errno != EEXIST)
		ThrowOs(env, MakeOsError(errno, "mkdir", "mkdir('/sys/fs/bpf')"));
	if (mount("bpf", kBpffs, "bpf", 0, "mode=0700") < 0)
		ThrowOs(env, MakeOsError(errno, "mount", "mount('bpf', '/sys/fs/bpf', 'bpf')"));
	return Napi::Boolean::New(env, true);
}

// ifindex(ifname, netnsPath | ''): the lookup runs on a short-lived thread so the JS thread never changes netns.
static Napi::Value Ifindex(const Napi::CallbackInfo &info)
{
	Napi::Env env = info.Env();
	std::string ifname = info[0].As<Napi::String>().Utf8Value();
	std::string ns = info[1].IsString() ? info[1].As<Napi::String>().Utf8Value() : "";
	OsError err;
	unsigned idx = 0;
	std::string what = "ifindex('" + ifname + "')";
	try {
		std::thread th([&] {
			try {
				NetnsGuard g;
				if (g.Enter(ns, &err))
					idx = ResolveIfindex(ifname, ns, &err);
			} catch (...) {
				err = OsErrorFromException(what);
			}
		});
		th.join();
	} catch (...) {  // the thread could not be started (std::system_error with its errno)
		err = OsErrorFromException(what);
	}
	if (err.failed())
		ThrowOs(env, err);
	return Napi::Number::New(env, idx);
}

static Napi::Value NumCpus(const Napi::CallbackInfo &info)
{
	int n = NumPossibleCpus();
	if (n < 0)
		ThrowOs(info.Env(), MakeOsError(n, "libbpf_num_possible_cpus", "reading /sys/devices/system/cpu/possible"));
	return Napi::Number::New(info.Env(), n);
}

static Napi::Value Unpin(const Napi::CallbackInfo &info)
{
	Napi::Env env = info.Env();
	std::string path = info[0].As<Napi::String>().Utf8Value();
	if (unlink(path.c_str()) < 0)
		ThrowOs(env, MakeOsError(errno, "unlink", "unpin('" + path + "')"));
	return env.Undefined();
}

void InitSystem(Napi::Env env, Napi::Object exports)
{
	exports.Set("ensureBpffs", Napi::Function::New<EnsureBpffs>(env, "ensureBpffs"));
	exports.Set("ifindex", Napi::Function::New<Ifindex>(env, "ifindex"));
	exports.Set("numPossibleCpus", Napi::Function::New<NumCpus>(env, "numPossibleCpus"));
	exports.Set("unpin", Napi::Function::New<Unpin>(env, "unpin"));
}

}  // namespace tollgate
