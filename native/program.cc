// BpfProgram: a program fd owned by this handle; BPF_PROG_TEST_RUN in a worker; pinning.
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <linux/bpf.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "object.h"

namespace tollgate {

class NativeProgram : public Napi::ObjectWrap<NativeProgram>, public FdHandle {
public:
	static Napi::Function Define(Napi::Env env);
	explicit NativeProgram(const Napi::CallbackInfo &info);

private:
	Napi::Value TestRun(const Napi::CallbackInfo &info);
	Napi::Value Info(const Napi::CallbackInfo &info);

	uint32_t type_ = 0, id_ = 0;
};

Napi::Function NativeProgram::Define(Napi::Env env)
{
	return DefineClass(env, "NativeProgram",
			   {
				   InstanceMethod<&NativeProgram::TestRun>("testRun"),
				   InstanceMethod("pin", &NativeProgram::Pin),
				   InstanceMethod("close", &NativeProgram::Close),
				   InstanceMethod<&NativeProgram::Info>("info"),
			   });
}

NativeProgram::NativeProgram(const Napi::CallbackInfo &info)
	: Napi::ObjectWrap<NativeProgram>(info), FdHandle("program")
{
	struct bpf_prog_info pi = Adopt<bpf_prog_info>(info, "BpfProgram handles come from BpfObject.program()");
	type_ = pi.type;
	id_ = pi.id;
}

Napi::Value NativeProgram::Info(const Napi::CallbackInfo &info)
{
	Napi::Env env = info.Env();
	Napi::Object o = Napi::Object::New(env);
	const char *ts = libbpf_bpf_prog_type_str(static_cast<enum bpf_prog_type>(type_));
	o.Set("name", name_);
	o.Set("type", ts ? ts : ("type_" + std::to_string(type_)).c_str());
	o.Set("id", id_);
	o.Set("fd", fd_);
	return o;
}

struct TestRunState {
	OwnedFd fd;
	std::vector<uint8_t> data, out;
	uint32_t repeat;
	int64_t ifindex;  // -1: no __sk_buff context
	uint32_t retval = 0, duration = 0;
};

static void TestRunWork(TestRunState &s, OsError &err, const std::string &what)
{
	struct bpf_test_run_opts o;
	memset(&o, 0, sizeof(o));
	o.sz = sizeof(o);
	o.data_in = s.data.data();
	o.data_size_in = static_cast<uint32_t>(s.data.size());
	o.data_out = s.out.data();
	o.data_size_out = static_cast<uint32_t>(s.out.size());
	o.repeat = static_cast<int>(s.repeat);
	struct __sk_buff ctx;
	if (s.ifindex >= 0) {
		// Only skb programs take a __sk_buff context; the kernel sets skb->dev from ifindex (> 1).
		memset(&ctx, 0, sizeof(ctx));
		ctx.ifindex = static_cast<uint32_t>(s.ifindex);
		o.ctx_in = &ctx;
		o.ctx_size_in = sizeof(ctx);
	}
	if (bpf_prog_test_run_opts(s.fd.Get(), &o) < 0) {
		int e = errno;
		std::string detail;
		if (e == ENOSPC)
			detail = "the output packet is larger than dataSizeOut (" + std::to_string(s.out.size()) + ")";
		else if (e == ENODEV)
			detail = "no interface with ifindex " + std::to_string(s.ifindex) + " in this network namespace";
		err = MakeOsError(e, "bpf_prog_test_run_opts", what, detail);
		return;
	}
	s.retval = o.retval;
	s.duration = o.duration;
	s.out.resize(o.data_size_out);
}

// testRun(data: Buffer, repeat: number, ifindex: number (-1: none), dataSizeOut: number)
Napi::Value NativeProgram::TestRun(const Napi::CallbackInfo &info)
{
	Napi::Env env = info.Env();
	std::string what = What("testRun");
	OwnedFd fd = DupForWorker(env, Fd(env, "testRun"), what);
	Napi::Buffer<uint8_t> data = info[0].As<Napi::Buffer<uint8_t>>();
	TestRunState st{std::move(fd),
			std::vector<uint8_t>(data.Data(), data.Data() + data.Length()),
			std::vector<uint8_t>(info[3].As<Napi::Number>().Uint32Value()),
			info[1].As<Napi::Number>().Uint32Value(),
			info[2].As<Napi::Number>().Int64Value()};
	return RunAsync(
		env, what, std::move(st), TestRunWork,
		[](Napi::Env env, TestRunState &s) {
			Napi::Object r = Napi::Object::New(env);
			r.Set("retval", Napi::Number::New(env, static_cast<int32_t>(s.retval)));
			r.Set("duration", Napi::Number::New(env, s.duration));
			r.Set("dataOut", Napi::Buffer<uint8_t>::Copy(env, s.out.data(), s.out.size()));
			return r;
		});
}

void InitProgram(Napi::Env env, Napi::Object exports)
{
	Napi::Function ctor = NativeProgram::Define(env);
	GetData(env)->progCtor = Napi::Persistent(ctor);
	exports.Set("NativeProgram", ctor);
}

}  // namespace tollgate
