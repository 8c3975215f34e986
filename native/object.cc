// BpfObject: bpf_object__open_file, `const volatile` configuration, map sizing and sharing, load (a worker).
#include "object.h"

#include <bpf/bpf.h>
#include <bpf/btf.h>
#include <bpf/libbpf.h>
#include <fcntl.h>
#include <limits.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

namespace tollgate {

static constexpr size_t kLogBufSize = 4 << 20;  // the kernel keeps the tail of the verifier log (rolling log)

// Names for an error message: "a, b, c", or "none".
static std::string NameList(const std::vector<std::string> &names)
{
	std::string list;
	for (const std::string &n : names)
		list += (list.empty() ? "" : ", ") + n;
	return list.empty() ? "none" : list;
}

Napi::Function NativeObject::Define(Napi::Env env)
{
	return DefineClass(env, "NativeObject",
			   {
				   InstanceMethod<&NativeObject::SetConst>("setConst"),
				   InstanceMethod<&NativeObject::Consts>("consts"),
				   InstanceMethod<&NativeObject::SetMapMaxEntries>("setMapMaxEntries"),
				   InstanceMethod<&NativeObject::ReuseMap>("reuseMap"),
				   InstanceMethod<&NativeObject::Load>("load"),
				   InstanceMethod<&NativeObject::Map>("map"),
				   InstanceMethod<&NativeObject::Program>("program"),
				   InstanceMethod<&NativeObject::MapNames>("mapNames"),
				   InstanceMethod<&NativeObject::ProgramNames>("programNames"),
				   InstanceMethod<&NativeObject::Close>("close"),
				   InstanceAccessor<&NativeObject::GetLoaded>("loaded"),
				   InstanceAccessor<&NativeObject::GetClosed>("closed"),
				   InstanceAccessor<&NativeObject::GetPath>("path"),
			   });
}

// new NativeObject(path): opens the ELF file (no kernel objects are created until load()).
NativeObject::NativeObject(const Napi::CallbackInfo &info) : Napi::ObjectWrap<NativeObject>(info)
{
	Napi::Env env = info.Env();
	if (info.Length() < 1 || !info[0].IsString())
		throw Napi::TypeError::New(env, "NativeObject: path must be a string");
	path_ = info[0].As<Napi::String>().Utf8Value();
	logBuf_.assign(kLogBufSize, '\0');

	struct bpf_object_open_opts opts;
	memset(&opts, 0, sizeof(opts));
	opts.sz = sizeof(opts);
	opts.kernel_log_buf = logBuf_.data();
	opts.kernel_log_size = logBuf_.size();
	opts.kernel_log_level = 0;  // libbpf retries a failed load at level 1 into our buffer

	LibbpfCapture cap;
	errno = 0;
	bpf_object *o = bpf_object__open_file(path_.c_str(), &opts);
	if (!o) {
		int e = errno ? errno : EINVAL;
		OsError err = MakeOsError(e, "bpf_object__open_file", "bpf_object__open_file('" + path_ + "')",
					  cap.Text());
		err.libbpfLog = cap.Text();
		ThrowOs(env, err);
	}
	obj_ = o;
	live_ = GetData(env)->live;
	live_->Add(this);
}

NativeObject::~NativeObject()
{
	DoClose();
	if (live_)
		live_->Remove(this);
}

void NativeObject::DoClose()
{
	if (loading_)
		return;  // the load worker holds a reference; it can never be collected while loading
	for (FdHandle *c : std::vector<FdHandle *>(children_.begin(), children_.end()))
		c->CloseByParent();
	children_.clear();
	if (obj_) {
		bpf_object__close(obj_);
		obj_ = nullptr;
	}
}

void NativeObject::CloseForExit()
{
	DoClose();
}

void NativeObject::RequireOpen(Napi::Env env, const char *what)
{
	if (!obj_)
		throw StateError(env, "ERR_BPF_CLOSED", std::string(what) + ": the object '" + path_ + "' is closed");
	if (loading_)
		throw StateError(env, "ERR_BPF_BUSY", std::string(what) + ": load() of '" + path_ + "' is in progress");
}

void NativeObject::RequireNotLoaded(Napi::Env env, const char *what)
{
	RequireOpen(env, what);
	if (loaded_ || loadFailed_)
		throw StateError(env, "ERR_BPF_LOADED",
				 std::string(what) + ": must be called before load() ('" + path_ + "' was already loaded)");
}

void NativeObject::RequireLoaded(Napi::Env env, const char *what)
{
	RequireOpen(env, what);
	if (!loaded_)
		throw StateError(env, "ERR_BPF_NOT_LOADED",
				 std::string(what) + ": the object '" + path_ + "' is not loaded (call load() first)");
}

// ---- const volatile globals ----

struct ConstVar {
	std::string name;
	uint32_t offset;
	uint32_t size;
};

static bpf_map *FindRodata(bpf_object *obj)
{
	bpf_map *m;
	bpf_object__for_each_map(m, obj)
	{
		const char *n = bpf_map__name(m);
		size_t len = strlen(n);
		if (bpf_map__is_internal(m) && len >= 7 && strcmp(n + len - 7, ".rodata") == 0)
			return m;
	}
	return nullptr;
}

// The variables of the .rodata section, from BTF (names, offsets and sizes as the compiler laid them out).
static std::vector<ConstVar> RodataVars(bpf_object *obj)
{
	std::vector<ConstVar> out;
	struct btf *btf = bpf_object__btf(obj);
	if (!btf)
		return out;
	int secId = btf__find_by_name_kind(btf, ".rodata", BTF_KIND_DATASEC);
	if (secId < 0)
		return out;
	const struct btf_type *sec = btf__type_by_id(btf, secId);
	const struct btf_var_secinfo *vs = btf_var_secinfos(sec);
	for (int i = 0; i < btf_vlen(sec); i++, vs++) {
		const struct btf_type *var = btf__type_by_id(btf, vs->type);
		if (!var || !btf_is_var(var))
			continue;
		out.push_back({btf__name_by_offset(btf, var->name_off), vs->offset, vs->size});
	}
	return out;
}

Napi::Value NativeObject::Consts(const Napi::CallbackInfo &info)
{
	Napi::Env env = info.Env();
	RequireOpen(env, "consts");
	Napi::Array arr = Napi::Array::New(env);
	uint32_t i = 0;
	for (const ConstVar &v : RodataVars(obj_)) {
		Napi::Object o = Napi::Object::New(env);
		o.Set("name", v.name);
		o.Set("offset", v.offset);
		o.Set("size", v.size);
		arr.Set(i++, o);
	}
	return arr;
}

Napi::Value NativeObject::SetConst(const Napi::CallbackInfo &info)
{
	Napi::Env env = info.Env();
	RequireNotLoaded(env, "setConst");
	std::string name = info[0].As<Napi::String>().Utf8Value();
	Napi::Buffer<uint8_t> value = info[1].As<Napi::Buffer<uint8_t>>();

	std::vector<ConstVar> vars = RodataVars(obj_);
	const ConstVar *found = nullptr;
	std::vector<std::string> names;
	for (const ConstVar &v : vars) {
		names.push_back(v.name);
		if (v.name == name)
			found = &v;
	}
	if (!found) {
		OsError e = MakeOsError(ENOENT, "btf__find_by_name_kind",
					"setConst('" + name + "')",
					"no `const volatile` variable named '" + name + "' in the .rodata of '" + path_ +
						"' (found: " + NameList(names) + ")");
		ThrowOs(env, e);
	}
	if (value.Length() != found->size) {
		OsError e = MakeOsError(EINVAL, "setConst", "setConst('" + name + "')",
					"'" + name + "' is " + std::to_string(found->size) + " bytes, the value is " +
						std::to_string(value.Length()) + " bytes");
		ThrowOs(env, e);
	}
	bpf_map *ro = FindRodata(obj_);
	size_t size = 0;
	const void *init = ro ? bpf_map__initial_value(ro, &size) : nullptr;
	if (!init || found->offset + found->size > size) {
		OsError e = MakeOsError(ENOENT, "bpf_map__initial_value", "setConst('" + name + "')",
					"the .rodata map of '" + path_ + "' has no room for '" + name + "'");
		ThrowOs(env, e);
	}
	std::vector<uint8_t> data(static_cast<const uint8_t *>(init), static_cast<const uint8_t *>(init) + size);
	memcpy(data.data() + found->offset, value.Data(), found->size);
	int r = bpf_map__set_initial_value(ro, data.data(), data.size());
	if (r < 0)
		ThrowOs(env, MakeOsError(r, "bpf_map__set_initial_value", "setConst('" + name + "')"));
	return env.Undefined();
}

// The names of an object's maps or programs, in the object's order.
template <typename T, typename Next, typename Name>
static std::vector<std::string> NamesOf(bpf_object *obj, Next next, Name name)
{
	std::vector<std::string> out;
	for (T *it = next(obj, nullptr); it; it = next(obj, it))
		out.push_back(name(it));
	return out;
}
static std::vector<std::string> MapNameList(bpf_object *obj)
{
	return NamesOf<bpf_map>(obj, bpf_object__next_map, bpf_map__name);
}
static std::vector<std::string> ProgramNameList(bpf_object *obj)
{
	return NamesOf<bpf_program>(obj, bpf_object__next_program, bpf_program__name);
}

// ENOENT: "no <kind> named '<name>' in '<path>' (<kind>s: a, b)", the names the object does have.
[[noreturn]] static void ThrowNotFound(Napi::Env env, const std::string &syscall, const std::string &what,
				       const std::string &kind, const std::string &name, const std::string &path,
				       const std::vector<std::string> &names)
{
	ThrowOs(env, MakeOsError(ENOENT, syscall, what,
				 "no " + kind + " named '" + name + "' in '" + path + "' (" + kind + "s: " + NameList(names) +
					 ")"));
}

static bpf_map *FindMapOrThrow(Napi::Env env, bpf_object *obj, const std::string &name, const std::string &what,
			       const std::string &path)
{
	bpf_map *m = bpf_object__find_map_by_name(obj, name.c_str());
	if (!m)
		ThrowNotFound(env, "bpf_object__find_map_by_name", what, "map", name, path, MapNameList(obj));
	return m;
}

Napi::Value NativeObject::SetMapMaxEntries(const Napi::CallbackInfo &info)
{
	Napi::Env env = info.Env();
	RequireNotLoaded(env, "setMapMaxEntries");
	std::string name = info[0].As<Napi::String>().Utf8Value();
	uint32_t n = info[1].As<Napi::Number>().Uint32Value();
	std::string what = "setMapMaxEntries('" + name + "', " + std::to_string(n) + ")";
	bpf_map *m = FindMapOrThrow(env, obj_, name, what, path_);
	int r = bpf_map__set_max_entries(m, n);
	if (r < 0)
		ThrowOs(env, MakeOsError(r, "bpf_map__set_max_entries", what));
	return env.Undefined();
}

// Shares an existing pinned map instead of creating a new one at load (e.g. the conntrack table across
// program generations). The pinned map must have the same type, key size and value size.
Napi::Value NativeObject::ReuseMap(const Napi::CallbackInfo &info)
{
	Napi::Env env = info.Env();
	RequireNotLoaded(env, "reuseMap");
	std::string name = info[0].As<Napi::String>().Utf8Value();
	std::string pin = info[1].As<Napi::String>().Utf8Value();
	std::string what = "reuseMap('" + name + "', '" + pin + "')";
	bpf_map *m = FindMapOrThrow(env, obj_, name, what, path_);
	int fd = bpf_obj_get(pin.c_str());
	if (fd < 0)
		ThrowOs(env, MakeOsError(errno, "bpf_obj_get", what));
	struct bpf_map_info mi;
	memset(&mi, 0, sizeof(mi));
	uint32_t len = sizeof(mi);
	if (bpf_obj_get_info_by_fd(fd, &mi, &len) < 0) {
		int e = errno;
		close(fd);
		ThrowOs(env, MakeOsError(e, "bpf_obj_get_info_by_fd", what));
	}
	if (mi.type != bpf_map__type(m) || mi.key_size != bpf_map__key_size(m) ||
	    mi.value_size != bpf_map__value_size(m)) {
		close(fd);
		auto desc = [](uint32_t t, uint32_t k, uint32_t v) {
			const char *ts = libbpf_bpf_map_type_str(static_cast<enum bpf_map_type>(t));
			return std::string(ts ? ts : "?") + " key " + std::to_string(k) + " value " + std::to_string(v);
		};
		ThrowOs(env, MakeOsError(EINVAL, "bpf_map__reuse_fd", what,
					 "the pinned map is " + desc(mi.type, mi.key_size, mi.value_size) +
						 ", the object's map is " +
						 desc(bpf_map__type(m), bpf_map__key_size(m), bpf_map__value_size(m))));
	}
	int r = bpf_map__reuse_fd(m, fd);  // dups the fd
	close(fd);
	if (r < 0)
		ThrowOs(env, MakeOsError(r, "bpf_map__reuse_fd", what));
	return env.Undefined();
}

// ---- load ----

// The last `lines` lines of a log, at most maxChars characters ("...\n" first when cut).
static std::string Tail(const std::string &s, int lines, size_t maxChars)
{
	size_t end = s.size();
	while (end > 0 && (s[end - 1] == '\n' || s[end - 1] == '\0'))
		end--;
	size_t pos = end;
	int n = 0;
	while (pos > 0 && n < lines) {
		pos = s.rfind('\n', pos - 1);
		if (pos == std::string::npos) {
			pos = 0;
			break;
		}
		n++;
	}
	if (end - pos > maxChars)
		pos = end - maxChars;
	std::string t = s.substr(pos, end - pos);
	if (!t.empty() && t[0] == '\n')
		t.erase(0, 1);
	return (pos > 0 ? "...\n" : "") + t;
}

struct LoadState {
	NativeObject *o;
	Napi::ObjectReference self;  // keeps the object alive (and un-collectable) while the worker uses it
	std::string path;
};

Napi::Value NativeObject::Load(const Napi::CallbackInfo &info)
{
	Napi::Env env = info.Env();
	RequireNotLoaded(env, "load");
	std::string what = "bpf_object__load('" + path_ + "')";
	LoadState st{this, Napi::Persistent(info.This().As<Napi::Object>()), path_};
	Napi::Promise p = RunAsync(
		env, what, std::move(st),
		[](LoadState &s, OsError &err, const std::string &what) {
			LibbpfCapture cap;
			std::vector<char> &log = s.o->logBuf();
			log[0] = '\0';
			int r = bpf_object__load(s.o->obj());
			if (r >= 0)
				return;
			std::string vlog(log.data(), strnlen(log.data(), log.size()));
			std::string detail;
			if (!vlog.empty())
				detail = "verifier log (tail):\n" + Tail(vlog, 60, 6000);
			else
				detail = Tail(cap.Text(), 30, 4000);
			err = MakeOsError(r, "bpf_object__load", what, detail);
			err.verifierLog = vlog;
			err.libbpfLog = cap.Text();
		},
		ResolveUndefined(),
		[](LoadState &s, const OsError &err) {
			s.o->FinishLoad(!err.failed());
			s.self.Reset();
		});
	loading_ = true;  // only once the worker is queued: nothing above may leave the object marked busy
	return p;
}

// ---- children ----

Napi::Value NativeObject::Map(const Napi::CallbackInfo &info)
{
	Napi::Env env = info.Env();
	std::string name = info[0].As<Napi::String>().Utf8Value();
	RequireLoaded(env, ("map('" + name + "')").c_str());
	bpf_map *m = FindMapOrThrow(env, obj_, name, "map('" + name + "')", path_);
	int fd = DupFd(bpf_map__fd(m));
	if (fd < 0)
		ThrowOs(env, MakeOsError(errno, "fcntl", "map('" + name + "')"));
	HandleInit init{fd, bpf_map__name(m), info.This().As<Napi::Object>(), this};
	return GetData(env)->mapCtor.New({Napi::External<HandleInit>::New(env, &init)});
}

Napi::Value NativeObject::Program(const Napi::CallbackInfo &info)
{
	Napi::Env env = info.Env();
	std::string name = info[0].As<Napi::String>().Utf8Value();
	std::string what = "program('" + name + "')";
	RequireLoaded(env, what.c_str());
	bpf_program *p = bpf_object__find_program_by_name(obj_, name.c_str());
	if (!p)
		ThrowNotFound(env, "bpf_object__find_program_by_name", what, "program", name, path_, ProgramNameList(obj_));
	int fd = DupFd(bpf_program__fd(p));
	if (fd < 0)
		ThrowOs(env, MakeOsError(errno, "fcntl", what));
	HandleInit init{fd, bpf_program__name(p), info.This().As<Napi::Object>(), this};
	return GetData(env)->progCtor.New({Napi::External<HandleInit>::New(env, &init)});
}

static Napi::Array ToArray(Napi::Env env, const std::vector<std::string> &names)
{
	Napi::Array arr = Napi::Array::New(env, names.size());
	for (size_t i = 0; i < names.size(); i++)
		arr.Set(static_cast<uint32_t>(i), names[i]);
	return arr;
}

Napi::Value NativeObject::MapNames(const Napi::CallbackInfo &info)
{
	RequireOpen(info.Env(), "mapNames");
	return ToArray(info.Env(), MapNameList(obj_));
}

Napi::Value NativeObject::ProgramNames(const Napi::CallbackInfo &info)
{
	RequireOpen(info.Env(), "programNames");
	return ToArray(info.Env(), ProgramNameList(obj_));
}

Napi::Value NativeObject::Close(const Napi::CallbackInfo &info)
{
	if (loading_)
		throw StateError(info.Env(), "ERR_BPF_BUSY", "close: load() of '" + path_ + "' is in progress");
	DoClose();
	return info.Env().Undefined();
}

Napi::Value NativeObject::GetLoaded(const Napi::CallbackInfo &info)
{
	return Napi::Boolean::New(info.Env(), loaded_ && obj_);
}

Napi::Value NativeObject::GetClosed(const Napi::CallbackInfo &info)
{
	return Napi::Boolean::New(info.Env(), obj_ == nullptr);
}

Napi::Value NativeObject::GetPath(const Napi::CallbackInfo &info)
{
	return Napi::String::New(info.Env(), path_);
}

// ---- FdHandle: the part of map and program handles that is about owning an fd ----

FdHandle::~FdHandle()
{
	CloseFd();
	LeaveParent();
	if (live_)
		live_->Remove(this);
}

void FdHandle::Join(Napi::Env env, HandleInit *init)
{
	live_ = GetData(env)->live;
	live_->Add(this);
	if (init->parentPtr) {
		parent_ = Napi::Persistent(init->parent);  // the parent outlives its children
		parentPtr_ = static_cast<NativeObject *>(init->parentPtr);
		parentPtr_->AddChild(this);
	}
}

void FdHandle::CloseFd()
{
	if (fd_ >= 0) {
		close(fd_);
		fd_ = -1;
	}
}

void FdHandle::LeaveParent()
{
	if (parentPtr_) {
		parentPtr_->RemoveChild(this);
		parentPtr_ = nullptr;
	}
}

void FdHandle::CloseByParent()
{
	CloseFd();
	closedByParent_ = true;
	parentPtr_ = nullptr;
}

int FdHandle::Fd(Napi::Env env, const char *what)
{
	if (fd_ < 0)
		throw StateError(env, "ERR_BPF_CLOSED",
				 std::string(what) + ": the " + kind_ + " '" + name_ + "' is closed" +
					 (closedByParent_ ? " (its object was closed)" : ""));
	return fd_;
}

Napi::Value FdHandle::Pin(const Napi::CallbackInfo &info)
{
	Napi::Env env = info.Env();
	int fd = Fd(env, "pin");
	std::string path = info[0].As<Napi::String>().Utf8Value();
	if (bpf_obj_pin(fd, path.c_str()) < 0) {
		int e = errno;
		ThrowOs(env, MakeOsError(e, "bpf_obj_pin", What("pin('" + path + "')"),
					 e == EPERM || e == EINVAL ? "is the parent directory on a BPF filesystem? (ensureBpffs())" : ""));
	}
	return env.Undefined();
}

Napi::Value FdHandle::Close(const Napi::CallbackInfo &info)
{
	CloseFd();
	LeaveParent();
	if (!parent_.IsEmpty())
		parent_.Reset();
	return info.Env().Undefined();
}

void InitObject(Napi::Env env, Napi::Object exports)
{
	exports.Set("NativeObject", NativeObject::Define(env));
}

}  // namespace tollgate
