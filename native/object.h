// BpfObject: one ELF object file opened with libbpf, configured before load, then loaded. It is the parent of
// the map and program handles taken from it and closes them when it is closed (better-sqlite3's rule).
#pragma once

#include <bpf/bpf.h>

#include <cerrno>
#include <cstring>

#include "common.h"

struct bpf_object;

namespace tollgate {

class NativeObject;

// What a map and a program handle share: the fd it owns (a dup), its name, the object it came from (its parent,
// which closes it), its entry in the environment's live set, pinning and closing.
class FdHandle : public Closable {
public:
	void CloseForExit() override { CloseFd(); }
	void CloseByParent();  // the parent is going away: release the fd, forget the parent

protected:
	explicit FdHandle(const char *kind) : kind_(kind) {}
	~FdHandle() override;
	// Takes the fd handed over in info[0] (an External<HandleInit>, else a TypeError saying `usage`), reads the
	// kernel's info of it (bpf_map_info or bpf_prog_info) and only then joins the live set and the parent: a
	// failure leaves nothing registered and the fd closed.
	template <typename KernelInfo>
	KernelInfo Adopt(const Napi::CallbackInfo &info, const char *usage)
	{
		Napi::Env env = info.Env();
		if (info.Length() < 1 || !info[0].IsExternal())
			throw Napi::TypeError::New(env, usage);
		HandleInit *init = info[0].As<Napi::External<HandleInit>>().Data();
		OwnedFd fd(init->fd);
		name_ = init->name;
		KernelInfo ki;
		memset(&ki, 0, sizeof(ki));
		uint32_t len = sizeof(ki);
		if (bpf_obj_get_info_by_fd(fd.Get(), &ki, &len) < 0)
			ThrowOs(env, MakeOsError(errno, "bpf_obj_get_info_by_fd", What("info")));
		if (name_.empty())
			name_ = ki.name;  // kernel names are cut at 15 characters
		fd_ = fd.Release();
		Join(env, init);
		return ki;
	}
	// The fd, or ERR_BPF_CLOSED naming `what`.
	int Fd(Napi::Env env, const char *what);
	// "map 'name': op"
	std::string What(const std::string &op) const { return std::string(kind_) + " '" + name_ + "': " + op; }
	Napi::Value Pin(const Napi::CallbackInfo &info);
	Napi::Value Close(const Napi::CallbackInfo &info);

	int fd_ = -1;
	std::string name_;

private:
	void Join(Napi::Env env, HandleInit *init);
	void CloseFd();
	void LeaveParent();

	const char *kind_;
	bool closedByParent_ = false;
	Napi::ObjectReference parent_;
	NativeObject *parentPtr_ = nullptr;
	std::shared_ptr<LiveSet> live_;
};

class NativeObject : public Napi::ObjectWrap<NativeObject>, public Closable {
public:
	static Napi::Function Define(Napi::Env env);
	explicit NativeObject(const Napi::CallbackInfo &info);
	~NativeObject() override;

	void AddChild(FdHandle *c) { children_.insert(c); }
	void RemoveChild(FdHandle *c) { children_.erase(c); }
	void CloseForExit() override;

	// Used by the load worker.
	bpf_object *obj() { return obj_; }
	std::vector<char> &logBuf() { return logBuf_; }
	void FinishLoad(bool ok)
	{
		loading_ = false;
		loaded_ = ok;
		loadFailed_ = !ok;
	}

private:
	Napi::Value SetConst(const Napi::CallbackInfo &info);
	Napi::Value Consts(const Napi::CallbackInfo &info);
	Napi::Value SetMapMaxEntries(const Napi::CallbackInfo &info);
	Napi::Value ReuseMap(const Napi::CallbackInfo &info);
	Napi::Value Load(const Napi::CallbackInfo &info);
	Napi::Value Map(const Napi::CallbackInfo &info);
	Napi::Value Program(const Napi::CallbackInfo &info);
	Napi::Value MapNames(const Napi::CallbackInfo &info);
	Napi::Value ProgramNames(const Napi::CallbackInfo &info);
	Napi::Value Close(const Napi::CallbackInfo &info);
	Napi::Value GetLoaded(const Napi::CallbackInfo &info);
	Napi::Value GetClosed(const Napi::CallbackInfo &info);
	Napi::Value GetPath(const Napi::CallbackInfo &info);

	void RequireOpen(Napi::Env env, const char *what);
	void RequireNotLoaded(Napi::Env env, const char *what);
	void RequireLoaded(Napi::Env env, const char *what);
	void DoClose();

	bpf_object *obj_ = nullptr;
	std::shared_ptr<LiveSet> live_;
	std::string path_;
	std::vector<char> logBuf_;
	std::set<FdHandle *> children_;
	bool loaded_ = false;
	bool loading_ = false;
	bool loadFailed_ = false;
};

}  // namespace tollgate
