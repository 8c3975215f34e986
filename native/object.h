// BpfObject: one ELF object file opened with libbpf, configured before load, then loaded. It is the parent of
// the map and program handles taken from it and closes them when it is closed (better-sqlite3's rule).
#pragma once

#include "common.h"

struct bpf_object;

namespace tollgate {

class ChildHandle : public Closable {
public:
	virtual void CloseByParent() = 0;  // the parent is going away: release the fd, forget the parent
};

class NativeObject : public Napi::ObjectWrap<NativeObject>, public Closable {
public:
	static Napi::Function Define(Napi::Env env);
	explicit NativeObject(const Napi::CallbackInfo &info);
	~NativeObject() override;

	void AddChild(ChildHandle *c) { children_.insert(c); }
	void RemoveChild(ChildHandle *c) { children_.erase(c); }
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
	std::string path_;
	std::vector<char> logBuf_;
	std::set<ChildHandle *> children_;
	bool loaded_ = false;
	bool loading_ = false;
	bool loadFailed_ = false;
};

}  // namespace tollgate
