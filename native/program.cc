// BpfProgram: a program fd owned by this handle; BPF_PROG_TEST_RUN in a worker; pinning.
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <linux/bpf.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "object.h"

namespace tollgate {

class NativeProgram : public Napi::ObjectWrap<NativeProgram>, public ChildHandle {
public:
	static Napi::Function Define(Napi::Env env);
	explicit NativeProgram(const Napi::CallbackInfo &info);
	~NativeProgram() override;
	void CloseForExit() override { CloseFd(); }
	void CloseByParent() override
	{
		CloseFd();
		closedByParent_ = true;
		parentPtr_ = nullptr;
	}

private:
	Napi::Value TestRun(const Napi::CallbackInfo &info);
	Napi::Value Pin(const Napi::CallbackInfo &info);
	Napi::Value Close(const Napi::CallbackInfo &info);
	Napi::Value Info(const Napi::CallbackInfo &info);

	void CloseFd()
	{
		if (fd_ >= 0) {
			close(fd_);
			fd_ = -1;
		}
	}
	int Fd(Napi::Env env, const char *what)
	{
		if (fd_ < 0)
			throw StateError(env, "ERR_BPF_CLOSED",
					 std::string(what) + ": the program '" + name_ + "' is closed" +
						 (closedByParent_ ? " (its object was closed)" : ""));
		return fd_;
	}

	int fd_ = -1;
	std::string name_;
	uint32_t type_ = 0, id_ = 0;
	bool closedByParent_ = false;
	Napi::ObjectReference parent_;
	NativeObject *parentPtr_ = nullptr;
};

Napi::Function NativeProgram::Define(Napi::Env env)
{
	return DefineClass(env, "NativeProgram",
			   {
				   InstanceMethod<&NativeProgram::TestRun>("testRun"),
				   InstanceMethod<&NativeProgram::Pin>("pin"),
				   InstanceMethod<&NativeProgram::Close>("close"),
				   InstanceMethod<&NativeProgram::Info>("info"),
			   });
}

NativeProgram::NativeProgram(const Napi::CallbackInfo &info) : Napi::ObjectWrap<NativeProgram>(info)
{
	Napi::Env env = info.Env();
	if (info.Length() < 1 || !info[0].IsExternal())
		throw Napi::TypeError::New(env, "BpfProgram handles come from BpfObject.program()");
	HandleInit *init = info[0].As<Napi::External<HandleInit>>().Data();
	fd_ = init->fd;
	name_ = init->name;
	RegisterLive(this);
	if (init->parentPtr) {
		parent_ = Napi::Persistent(init->parent);
		parentPtr_ = static_cast<NativeObject *>(init->parentPtr);
		parentPtr_->AddChild(this);
	}
	struct bpf_prog_info pi;
	memset(&pi, 0, sizeof(pi));
	uint32_t len = sizeof(pi);
	if (bpf_obj_get_info_by_fd(fd_, &pi, &len) < 0)
		ThrowOs(env, MakeOsError(errno, "bpf_obj_get_info_by_fd", "program '" + name_ + "': info"));
	type_ = pi.type;
	id_ = pi.id;
	if (name_.empty())
		name_ = pi.name;
}

NativeProgram::~NativeProgram()
{
	CloseFd();
	if (parentPtr_)
		parentPtr_->RemoveChild(this);
	UnregisterLive(this);
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

class TestRunWorker : public PromiseWorker {
public:
	TestRunWorker(Napi::Env env, int fd, std::string name, const uint8_t *d, size_t len, uint32_t repeat,
		      int64_t ifindex, uint32_t sizeOut)
		: PromiseWorker(env), fd_(fd), name_(std::move(name)), data_(d, d + len), out_(sizeOut), repeat_(repeat),
		  ifindex_(ifindex)
	{
	}
	~TestRunWorker() override
	{
		if (fd_ >= 0)
			close(fd_);
	}
	void Execute() override
	{
		struct bpf_test_run_opts o;
		memset(&o, 0, sizeof(o));
		o.sz = sizeof(o);
		o.data_in = data_.data();
		o.data_size_in = static_cast<uint32_t>(data_.size());
		o.data_out = out_.data();
		o.data_size_out = static_cast<uint32_t>(out_.size());
		o.repeat = static_cast<int>(repeat_);
		struct __sk_buff ctx;
		if (ifindex_ >= 0) {
			// Only skb programs take a __sk_buff context; the kernel sets skb->dev from ifindex (> 1).
			memset(&ctx, 0, sizeof(ctx));
			ctx.ifindex = static_cast<uint32_t>(ifindex_);
			o.ctx_in = &ctx;
			o.ctx_size_in = sizeof(ctx);
		}
		if (bpf_prog_test_run_opts(fd_, &o) < 0) {
			int e = errno;
			std::string detail;
			if (e == ENOSPC)
				detail = "the output packet is larger than dataSizeOut (" + std::to_string(out_.size()) + ")";
			else if (e == ENODEV)
				detail = "no interface with ifindex " + std::to_string(ifindex_) + " in this network namespace";
			err_ = MakeOsError(e, "bpf_prog_test_run_opts", "program '" + name_ + "': testRun", detail);
			return;
		}
		retval_ = o.retval;
		duration_ = o.duration;
		out_.resize(o.data_size_out);
	}
	Napi::Value Result(Napi::Env env) override
	{
		Napi::Object r = Napi::Object::New(env);
		r.Set("retval", Napi::Number::New(env, static_cast<int32_t>(retval_)));
		r.Set("duration", Napi::Number::New(env, duration_));
		r.Set("dataOut", Napi::Buffer<uint8_t>::Copy(env, out_.data(), out_.size()));
		return r;
	}

private:
	int fd_;
	std::string name_;
	std::vector<uint8_t> data_, out_;
	uint32_t repeat_;
	int64_t ifindex_;
	uint32_t retval_ = 0, duration_ = 0;
};

// testRun(data: Buffer, repeat: number, ifindex: number (-1: none), dataSizeOut: number)
Napi::Value NativeProgram::TestRun(const Napi::CallbackInfo &info)
{
	Napi::Env env = info.Env();
	int fd = DupFd(Fd(env, "testRun"));
	if (fd < 0)
		ThrowOs(env, MakeOsError(errno, "fcntl", "program '" + name_ + "': testRun"));
	Napi::Buffer<uint8_t> data = info[0].As<Napi::Buffer<uint8_t>>();
	uint32_t repeat = info[1].As<Napi::Number>().Uint32Value();
	int64_t ifindex = info[2].As<Napi::Number>().Int64Value();
	uint32_t sizeOut = info[3].As<Napi::Number>().Uint32Value();
	auto *w = new TestRunWorker(env, fd, name_, data.Data(), data.Length(), repeat, ifindex, sizeOut);
	Napi::Promise p = w->Promise();
	w->Queue();
	return p;
}

Napi::Value NativeProgram::Pin(const Napi::CallbackInfo &info)
{
	Napi::Env env = info.Env();
	int fd = Fd(env, "pin");
	std::string path = info[0].As<Napi::String>().Utf8Value();
	if (bpf_obj_pin(fd, path.c_str()) < 0) {
		int e = errno;
		ThrowOs(env, MakeOsError(e, "bpf_obj_pin", "program '" + name_ + "': pin('" + path + "')",
					 e == EPERM || e == EINVAL ? "is the parent directory on a BPF filesystem? (ensureBpffs())" : ""));
	}
	return env.Undefined();
}

Napi::Value NativeProgram::Close(const Napi::CallbackInfo &info)
{
	CloseFd();
	if (parentPtr_) {
		parentPtr_->RemoveChild(this);
		parentPtr_ = nullptr;
	}
	if (!parent_.IsEmpty())
		parent_.Reset();
	return info.Env().Undefined();
}

void InitProgram(Napi::Env env, Napi::Object exports)
{
	Napi::Function ctor = NativeProgram::Define(env);
	GetData(env)->progCtor = Napi::Persistent(ctor);
	exports.Set("NativeProgram", ctor);
}

}  // namespace tollgate
