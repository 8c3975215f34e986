// Shared pieces of the Tollgate native addon: OS errors as JS errors, fd ownership, the handle registry,
// network-namespace switching and the per-env constructors. The addon knows objects, maps, programs and tc
// hooks, never policies.
#pragma once

#include <napi.h>

#include <cstdint>
#include <memory>
#include <set>
#include <string>
#include <vector>

namespace tollgate {

// An operating-system failure as it crosses from a worker thread to JS: errno stays a number (never flattened
// into the text) and becomes `code`/`errno`/`syscall` on the JS Error.
struct OsError {
	int err = 0;               // positive errno
	std::string syscall;       // 'bpf_object__load', 'bpf_tc_attach', ...
	std::string message;       // full human message (headline, hint, details)
	std::string verifierLog;   // optional: the kernel verifier log (load failures)
	std::string libbpfLog;     // optional: libbpf warnings printed during the call
	bool failed() const { return err != 0; }
};

// Builds the headline "<what> failed: <strerror> (<CODE>)" plus a hint for missing privileges or features.
OsError MakeOsError(int err, const std::string &syscall, const std::string &what, const std::string &detail = "");
Napi::Error ToJsError(Napi::Env env, const OsError &e);
[[noreturn]] void ThrowOs(Napi::Env env, const OsError &e);
std::string ErrnoCode(int err);
// A JS Error with a code but no errno (state errors such as "object already loaded").
Napi::Error StateError(Napi::Env env, const std::string &code, const std::string &message);

// libbpf's print callback writes into the calling thread's capture buffer while a Capture is alive.
class LibbpfCapture {
public:
	LibbpfCapture();
	~LibbpfCapture();
	std::string Text() const { return text_; }
	static void Install();

private:
	std::string text_;
	std::string *prev_;
};

int DupFd(int fd);  // F_DUPFD_CLOEXEC, -1 with errno on failure

// Switches the calling thread into another network namespace and always switches back in the destructor.
// Only ever used on threads that are not the JS thread (libuv pool threads or a short-lived std::thread).
class NetnsGuard {
public:
	NetnsGuard() = default;
	NetnsGuard(const NetnsGuard &) = delete;
	NetnsGuard &operator=(const NetnsGuard &) = delete;
	~NetnsGuard();
	// Empty path: stay in the current namespace.
	bool Enter(const std::string &path, OsError *out);

private:
	int orig_ = -1;
	bool entered_ = false;
};

// A file descriptor that closes itself: workers own dups of the fds they use, so closing a handle on the JS
// thread never races a running worker.
class OwnedFd {
public:
	explicit OwnedFd(int fd = -1) : fd_(fd) {}
	OwnedFd(OwnedFd &&o) noexcept : fd_(o.Release()) {}
	OwnedFd &operator=(OwnedFd &&o) noexcept
	{
		Reset(o.Release());
		return *this;
	}
	OwnedFd(const OwnedFd &) = delete;
	OwnedFd &operator=(const OwnedFd &) = delete;
	~OwnedFd() { Reset(); }
	int Get() const { return fd_; }
	int Release()
	{
		int fd = fd_;
		fd_ = -1;
		return fd;
	}
	void Reset(int fd = -1);

private:
	int fd_;
};

// Dups `fd` (close-on-exec) for a worker; throws the fcntl error as a JS error naming `what`.
OwnedFd DupForWorker(Napi::Env env, int fd, const std::string &what);

// if_nametoindex in the calling thread's namespace (`netns` only names it in the error); 0 and `*err` set when
// there is no such interface.
unsigned ResolveIfindex(const std::string &ifname, const std::string &netns, OsError *err);

// Everything that owns a kernel handle registers in its environment's set, so that the env cleanup hook can
// release it at exit. One set per environment: a worker thread that goes away closes its own handles only.
class Closable {
public:
	virtual ~Closable() = default;
	virtual void CloseForExit() = 0;
};
class LiveSet {
public:
	void Add(Closable *c) { live_.insert(c); }
	void Remove(Closable *c) { live_.erase(c); }
	void CloseAll();

private:
	std::set<Closable *> live_;  // touched only on the environment's own JS thread
};

struct AddonData {
	Napi::FunctionReference mapCtor;
	Napi::FunctionReference progCtor;
	// Shared with every handle, so a finalizer that runs after the instance data is gone still finds it.
	std::shared_ptr<LiveSet> live = std::make_shared<LiveSet>();
};
AddonData *GetData(Napi::Env env);

bool IsPerCpuMapType(uint32_t type);
int NumPossibleCpus();

// An OsError for a C++ exception that escaped blocking work (allocation failures, thread creation).
OsError OsErrorFromException(const std::string &what);

struct NoSettle {
	template <typename State>
	void operator()(State &, const OsError &) const
	{
	}
};
struct ResolveUndefined {
	template <typename State>
	Napi::Value operator()(Napi::Env env, State &) const
	{
		return env.Undefined();
	}
};

// A JS Buffer that a worker reads off the JS thread without a copy. The reference keeps the Buffer (and so its
// ArrayBuffer) from being collected until the worker is destroyed, which happens on the JS thread after the
// promise settles. The pointer is taken here, on the JS thread, and stays valid: a Buffer's bytes live in its
// ArrayBuffer's backing store, outside the JS heap, which the GC never moves (napi_get_buffer_info goes through
// ArrayBufferView::Buffer(), which gives a small on-heap typed array such a store first). What the addon cannot
// prevent: JS that changes the bytes, or transfers the ArrayBuffer away, before the promise settles (the callers
// of updateBatch await it with Buffers of their own).
struct HeldBuffer {
	explicit HeldBuffer(Napi::Buffer<uint8_t> b) : ref(Napi::Persistent(b)), data(b.Data()) {}
	Napi::Reference<Napi::Buffer<uint8_t>> ref;
	const uint8_t *data;
};

// The one worker behind every blocking operation. `work(state, err, what)` runs on a libuv pool thread (syscalls
// only, no JS; `what` names the operation in its errors); on the JS thread `settled(state, err)` runs first
// (bookkeeping owed either way), then the promise is rejected with `err` as a JS error (code, errno, syscall)
// when work set it, else resolved with `result(env, state)`. The worker owns `state` (dup'ed fds, held or copied
// buffers) until it is done; it is destroyed on the JS thread.
template <typename State, typename Work, typename Result, typename Settled>
class TaskWorker : public Napi::AsyncWorker {
public:
	TaskWorker(Napi::Env env, std::string what, State state, Work work, Result result, Settled settled)
		: Napi::AsyncWorker(env), deferred_(Napi::Promise::Deferred::New(env)), what_(std::move(what)),
		  state_(std::move(state)), work_(std::move(work)), result_(std::move(result)), settled_(std::move(settled))
	{
	}
	Napi::Promise Promise() { return deferred_.Promise(); }

protected:
	void Execute() override
	{
		try {
			work_(state_, err_, what_);
		} catch (...) {
			err_ = OsErrorFromException(what_);
		}
	}
	void OnOK() override
	{
		Napi::HandleScope scope(Env());
		settled_(state_, err_);
		if (err_.failed())
			deferred_.Reject(ToJsError(Env(), err_).Value());
		else
			deferred_.Resolve(result_(Env(), state_));
	}
	void OnError(const Napi::Error &e) override { deferred_.Reject(e.Value()); }

private:
	Napi::Promise::Deferred deferred_;
	std::string what_;
	OsError err_;
	State state_;
	Work work_;
	Result result_;
	Settled settled_;
};

template <typename State, typename Work, typename Result = ResolveUndefined, typename Settled = NoSettle>
Napi::Promise RunAsync(Napi::Env env, std::string what, State state, Work work, Result result = Result(),
		       Settled settled = Settled())
{
	auto *w = new TaskWorker<State, Work, Result, Settled>(env, std::move(what), std::move(state), std::move(work),
							       std::move(result), std::move(settled));
	Napi::Promise p = w->Promise();
	w->Queue();
	return p;
}

void InitObject(Napi::Env env, Napi::Object exports);
void InitMap(Napi::Env env, Napi::Object exports);
void InitProgram(Napi::Env env, Napi::Object exports);
void InitTc(Napi::Env env, Napi::Object exports);
void InitSystem(Napi::Env env, Napi::Object exports);

// Creates a JS map/program handle around a dup'ed fd (ownership passes to the new handle).
struct HandleInit {
	int fd;
	std::string name;      // full libbpf name when known (kernel names are cut at 15 chars)
	Napi::Object parent;   // the BpfObject the handle came from, or empty
	void *parentPtr;       // its native pointer (NativeObject*), or nullptr
};

}  // namespace tollgate
