// OS errors, libbpf log capture, fd helpers, the live-handle registry and network-namespace switching.
#include "common.h"

#include <bpf/libbpf.h>
#include <fcntl.h>
#include <net/if.h>
#include <sched.h>
#include <unistd.h>

#include <cerrno>
#include <cstdarg>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <new>
#include <system_error>

namespace tollgate {

std::string ErrnoCode(int err)
{
	if (err == 524)
		return "ENOTSUPP";  // kernel-internal errno that leaks out of bpf(); glibc has no name for it
	const char *n = strerrordesc_np(err) ? strerrorname_np(err) : nullptr;
	if (n)
		return n;
	return "E" + std::to_string(err);
}

static std::string Describe(int err)
{
	if (err == 524)
		return "Operation not supported by this kernel";
	const char *d = strerrordesc_np(err);
	return d ? d : ("errno " + std::to_string(err));
}

// What to do about the errors a user can fix: privileges and kernel features.
static std::string Hint(int err, const std::string &syscall)
{
	bool bpf = syscall.rfind("bpf", 0) == 0;
	bool tc = syscall.rfind("bpf_tc", 0) == 0 || syscall == "netlink";
	if (err == EPERM || err == EACCES) {
		if (tc)
			return "needs root or CAP_NET_ADMIN (and CAP_BPF) to change tc filters";
		if (syscall == "setns")
			return "needs root or CAP_SYS_ADMIN to enter a network namespace";
		if (syscall == "mount")
			return "needs root or CAP_SYS_ADMIN to mount the BPF filesystem";
		if (bpf && err == EPERM)
			return "needs root or CAP_BPF+CAP_NET_ADMIN (CAP_SYS_ADMIN on kernels before 5.8); run as root";
	}
	if (err == ENOSYS && bpf)
		return "the kernel has no bpf() system call (needs CONFIG_BPF_SYSCALL)";
	if ((err == EOPNOTSUPP || err == 524) && tc)
		return "the kernel lacks the clsact qdisc or cls_bpf (CONFIG_NET_SCH_INGRESS, CONFIG_NET_CLS_BPF)";
	if ((err == EOPNOTSUPP || err == 524 || err == EINVAL) && syscall == "bpf_prog_test_run_opts")
		return "BPF_PROG_TEST_RUN is not supported for this program type or input on this kernel";
	if (err == ENODEV && syscall == "if_nametoindex")
		return "";
	return "";
}

OsError MakeOsError(int err, const std::string &syscall, const std::string &what, const std::string &detail)
{
	if (err < 0)
		err = -err;
	if (err == 0)
		err = EIO;
	OsError e;
	e.err = err;
	e.syscall = syscall;
	e.message = what + " failed: " + Describe(err) + " (" + ErrnoCode(err) + ")";
	std::string hint = Hint(err, syscall);
	if (!hint.empty())
		e.message += ": " + hint;
	if (!detail.empty())
		e.message += "\n" + detail;
	return e;
}

Napi::Error ToJsError(Napi::Env env, const OsError &e)
{
	Napi::Error err = Napi::Error::New(env, e.message);
	err.Set("code", Napi::String::New(env, ErrnoCode(e.err)));
	err.Set("errno", Napi::Number::New(env, e.err));
	err.Set("syscall", Napi::String::New(env, e.syscall));
	if (!e.verifierLog.empty())
		err.Set("verifierLog", Napi::String::New(env, e.verifierLog));
	if (!e.libbpfLog.empty())
		err.Set("libbpfLog", Napi::String::New(env, e.libbpfLog));
	return err;
}

void ThrowOs(Napi::Env env, const OsError &e)
{
	throw ToJsError(env, e);
}

Napi::Error StateError(Napi::Env env, const std::string &code, const std::string &message)
{
	Napi::Error err = Napi::Error::New(env, message);
	err.Set("code", Napi::String::New(env, code));
	return err;
}

// ---- libbpf output: captured per thread, printed only when TOLLGATE_LIBBPF_DEBUG is set ----

static thread_local std::string *tl_capture = nullptr;

static int PrintFn(enum libbpf_print_level level, const char *fmt, va_list ap)
{
	static const bool debug = getenv("TOLLGATE_LIBBPF_DEBUG") != nullptr;
	char buf[2048];
	va_list cp;
	va_copy(cp, ap);
	int n = vsnprintf(buf, sizeof(buf), fmt, cp);
	va_end(cp);
	if (n < 0)
		return 0;
	if (tl_capture && level <= LIBBPF_INFO && tl_capture->size() < (1u << 20))
		tl_capture->append(buf);
	if (debug)
		fputs(buf, stderr);
	return n;
}

void LibbpfCapture::Install()
{
	libbpf_set_print(PrintFn);
}

LibbpfCapture::LibbpfCapture() : prev_(tl_capture)
{
	tl_capture = &text_;
}

LibbpfCapture::~LibbpfCapture()
{
	tl_capture = prev_;
}

int DupFd(int fd)
{
	return fcntl(fd, F_DUPFD_CLOEXEC, 3);
}

void OwnedFd::Reset(int fd)
{
	if (fd_ >= 0)
		close(fd_);
	fd_ = fd;
}

OwnedFd DupForWorker(Napi::Env env, int fd, const std::string &what)
{
	int d = DupFd(fd);
	if (d < 0)
		ThrowOs(env, MakeOsError(errno, "fcntl", what));
	return OwnedFd(d);
}

unsigned ResolveIfindex(const std::string &ifname, const std::string &netns, OsError *err)
{
	errno = 0;
	unsigned idx = if_nametoindex(ifname.c_str());
	if (idx == 0) {
		int e = errno;
		*err = MakeOsError(e == 0 ? ENODEV : e, "if_nametoindex", "if_nametoindex('" + ifname + "')",
				   "no interface named '" + ifname + "'" +
					   (netns.empty() ? " in the current network namespace" : " in netns " + netns));
	}
	return idx;
}

OsError OsErrorFromException(const std::string &what)
{
	try {
		throw;
	} catch (const std::bad_alloc &) {
		return MakeOsError(ENOMEM, "malloc", what);
	} catch (const std::system_error &e) {
		return MakeOsError(e.code().value() > 0 ? e.code().value() : EIO, "std::system_error", what, e.what());
	} catch (const std::exception &e) {
		return MakeOsError(EIO, "c++", what, e.what());
	} catch (...) {
		return MakeOsError(EIO, "c++", what, "an unknown C++ exception");
	}
}

// ---- network namespaces ----

bool NetnsGuard::Enter(const std::string &path, OsError *out)
{
	if (path.empty())
		return true;
	orig_ = open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC);
	if (orig_ < 0) {
		*out = MakeOsError(errno, "open", "open('/proc/thread-self/ns/net')");
		return false;
	}
	int target = open(path.c_str(), O_RDONLY | O_CLOEXEC);
	if (target < 0) {
		int e = errno;
		*out = MakeOsError(e, "open", "opening network namespace '" + path + "'",
				   e == ENOENT ? "no such network namespace (create it with `ip netns add NAME`)" : "");
		return false;
	}
	if (setns(target, CLONE_NEWNET) < 0) {
		int e = errno;
		close(target);
		*out = MakeOsError(e, "setns", "setns('" + path + "', CLONE_NEWNET)");
		return false;
	}
	close(target);
	entered_ = true;
	return true;
}

NetnsGuard::~NetnsGuard()
{
	if (entered_ && setns(orig_, CLONE_NEWNET) < 0) {
		// A pool thread left in a foreign namespace would silently do later work there: refuse to go on.
		fprintf(stderr, "tollgate_native: cannot return to the original network namespace: %s\n", strerror(errno));
		abort();
	}
	if (orig_ >= 0)
		close(orig_);
}

// ---- live handles ----

void LiveSet::CloseAll()
{
	std::vector<Closable *> all(live_.begin(), live_.end());
	for (Closable *c : all)
		c->CloseForExit();
}

AddonData *GetData(Napi::Env env)
{
	return env.GetInstanceData<AddonData>();
}

bool IsPerCpuMapType(uint32_t type)
{
	switch (type) {
	case BPF_MAP_TYPE_PERCPU_HASH:
	case BPF_MAP_TYPE_PERCPU_ARRAY:
	case BPF_MAP_TYPE_LRU_PERCPU_HASH:
	case BPF_MAP_TYPE_PERCPU_CGROUP_STORAGE:
		return true;
	default:
		return false;
	}
}

int NumPossibleCpus()
{
	static int n = libbpf_num_possible_cpus();
	return n;
}

}  // namespace tollgate
