// Shared pieces of the Tollgate native addon: OS errors as JS errors, fd ownership, the handle registry,
// network-namespace switching and the per-env constructors. The addon knows objects, maps, programs and tc
// hooks, never policies.
#pragma once

#include <napi.h>

#include <cstdint>
#include <mutex>
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

// Everything that owns a kernel handle registers here so the env cleanup hook can release it at exit.
class Closable {
public:
	virtual ~Closable() = default;
	virtual void CloseForExit() = 0;
};
void RegisterLive(Closable *c);
void UnregisterLive(Closable *c);
void CloseAllLive();

struct AddonData {
	Napi::FunctionReference mapCtor;
	Napi::FunctionReference progCtor;
};
AddonData *GetData(Napi::Env env);

bool IsPerCpuMapType(uint32_t type);
int NumPossibleCpus();

// The worker shape used by every blocking operation: syscalls in Execute(), JS values built in OnOK().
class PromiseWorker : public Napi::AsyncWorker {
public:
	explicit PromiseWorker(Napi::Env env) : Napi::AsyncWorker(env), deferred_(Napi::Promise::Deferred::New(env)) {}
	Napi::Promise Promise() { return deferred_.Promise(); }

protected:
	virtual Napi::Value Result(Napi::Env env) { return env.Undefined(); }
	void OnOK() override
	{
		Napi::HandleScope scope(Env());
		if (err_.failed())
			deferred_.Reject(ToJsError(Env(), err_).Value());
		else
			deferred_.Resolve(Result(Env()));
	}
	void OnError(const Napi::Error &e) override { deferred_.Reject(e.Value()); }
	OsError err_;

private:
	Napi::Promise::Deferred deferred_;
};

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
