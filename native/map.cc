// BpfMap: a map fd owned by this handle (dup'ed from its object, or opened from a pin). Per-CPU aware: values of
// per-CPU maps are round_up(valueSize, 8) * numPossibleCpus bytes, CPU after CPU.
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <unistd.h>

#include <cerrno>
#include <climits>
#include <cstring>

#include "object.h"

namespace tollgate {

class NativeMap : public Napi::ObjectWrap<NativeMap>, public ChildHandle {
public:
	static Napi::Function Define(Napi::Env env);
	explicit NativeMap(const Napi::CallbackInfo &info);
	~NativeMap() override;
	void CloseForExit() override { CloseFd(); }
	void CloseByParent() override
	{
		CloseFd();
		closedByParent_ = true;
		parentPtr_ = nullptr;
	}

private:
	static Napi::Value OpenPinned(const Napi::CallbackInfo &info);
	Napi::Value Lookup(const Napi::CallbackInfo &info);
	Napi::Value Update(const Napi::CallbackInfo &info);
	Napi::Value Delete(const Napi::CallbackInfo &info);
	Napi::Value UpdateBatch(const Napi::CallbackInfo &info);
	Napi::Value Keys(const Napi::CallbackInfo &info);
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
					 std::string(what) + ": the map '" + name_ + "' is closed" +
						 (closedByParent_ ? " (its object was closed)" : ""));
		return fd_;
	}
	size_t ValueBytes() const
	{
		return perCpu_ ? ((valueSize_ + 7) & ~7u) * static_cast<size_t>(NumPossibleCpus()) : valueSize_;
	}
	std::string What(const std::string &op) const { return "map '" + name_ + "': " + op; }

	int fd_ = -1;
	std::string name_;
	uint32_t type_ = 0, keySize_ = 0, valueSize_ = 0, maxEntries_ = 0, flags_ = 0, id_ = 0;
	bool perCpu_ = false;
	bool closedByParent_ = false;
	Napi::ObjectReference parent_;
	NativeObject *parentPtr_ = nullptr;
};

Napi::Function NativeMap::Define(Napi::Env env)
{
	return DefineClass(env, "NativeMap",
			   {
				   StaticMethod<&NativeMap::OpenPinned>("openPinned"),
				   InstanceMethod<&NativeMap::Lookup>("lookup"),
				   InstanceMethod<&NativeMap::Update>("update"),
				   InstanceMethod<&NativeMap::Delete>("delete"),
				   InstanceMethod<&NativeMap::UpdateBatch>("updateBatch"),
				   InstanceMethod<&NativeMap::Keys>("keys"),
				   InstanceMethod<&NativeMap::Pin>("pin"),
				   InstanceMethod<&NativeMap::Close>("close"),
				   InstanceMethod<&NativeMap::Info>("info"),
			   });
}

NativeMap::NativeMap(const Napi::CallbackInfo &info) : Napi::ObjectWrap<NativeMap>(info)
{
	Napi::Env env = info.Env();
	if (info.Length() < 1 || !info[0].IsExternal())
		throw Napi::TypeError::New(env, "BpfMap handles come from BpfObject.map() or BpfMap.openPinned()");
	HandleInit *init = info[0].As<Napi::External<HandleInit>>().Data();
	fd_ = init->fd;  // owned from here on
	name_ = init->name;
	RegisterLive(this);
	if (init->parentPtr) {
		parent_ = Napi::Persistent(init->parent);  // the parent outlives its children
		parentPtr_ = static_cast<NativeObject *>(init->parentPtr);
		parentPtr_->AddChild(this);
	}
	struct bpf_map_info mi;
	memset(&mi, 0, sizeof(mi));
	uint32_t len = sizeof(mi);
	if (bpf_obj_get_info_by_fd(fd_, &mi, &len) < 0)
		ThrowOs(env, MakeOsError(errno, "bpf_obj_get_info_by_fd", What("info")));
	type_ = mi.type;
	keySize_ = mi.key_size;
	valueSize_ = mi.value_size;
	maxEntries_ = mi.max_entries;
	flags_ = mi.map_flags;
	id_ = mi.id;
	if (name_.empty())
		name_ = mi.name;
	perCpu_ = IsPerCpuMapType(type_);
}

NativeMap::~NativeMap()
{
	CloseFd();
	if (parentPtr_)
		parentPtr_->RemoveChild(this);
	UnregisterLive(this);
}

// Opens a pinned map; refuses pins that are programs or links.
Napi::Value NativeMap::OpenPinned(const Napi::CallbackInfo &info)
{
	Napi::Env env = info.Env();
	std::string path = info[0].As<Napi::String>().Utf8Value();
	std::string what = "bpf_obj_get('" + path + "')";
	int fd = bpf_obj_get(path.c_str());
	if (fd < 0)
		ThrowOs(env, MakeOsError(errno, "bpf_obj_get", what));
	char link[64] = {0};
	std::string procPath = "/proc/self/fd/" + std::to_string(fd);
	ssize_t n = readlink(procPath.c_str(), link, sizeof(link) - 1);
	if (n > 0 && strstr(link, "bpf-map") == nullptr) {
		close(fd);
		ThrowOs(env, MakeOsError(EINVAL, "bpf_obj_get", what,
					 "'" + path + "' is not a BPF map (it is " + std::string(link, n) + ")"));
	}
	HandleInit init{fd, "", Napi::Object(), nullptr};
	return GetData(env)->mapCtor.New({Napi::External<HandleInit>::New(env, &init)});
}

Napi::Value NativeMap::Info(const Napi::CallbackInfo &info)
{
	Napi::Env env = info.Env();
	Napi::Object o = Napi::Object::New(env);
	const char *ts = libbpf_bpf_map_type_str(static_cast<enum bpf_map_type>(type_));
	o.Set("name", name_);
	o.Set("type", ts ? ts : ("type_" + std::to_string(type_)).c_str());
	o.Set("typeId", type_);
	o.Set("keySize", keySize_);
	o.Set("valueSize", valueSize_);
	o.Set("maxEntries", maxEntries_);
	o.Set("flags", flags_);
	o.Set("id", id_);
	o.Set("perCpu", perCpu_);
	o.Set("fd", fd_);
	return o;
}

Napi::Value NativeMap::Lookup(const Napi::CallbackInfo &info)
{
	Napi::Env env = info.Env();
	int fd = Fd(env, "lookup");
	Napi::Buffer<uint8_t> key = info[0].As<Napi::Buffer<uint8_t>>();
	std::vector<uint8_t> out(ValueBytes());
	if (bpf_map_lookup_elem(fd, key.Data(), out.data()) < 0) {
		if (errno == ENOENT)
			return env.Null();
		ThrowOs(env, MakeOsError(errno, "bpf_map_lookup_elem", What("lookup")));
	}
	return Napi::Buffer<uint8_t>::Copy(env, out.data(), out.size());
}

Napi::Value NativeMap::Update(const Napi::CallbackInfo &info)
{
	Napi::Env env = info.Env();
	int fd = Fd(env, "update");
	Napi::Buffer<uint8_t> key = info[0].As<Napi::Buffer<uint8_t>>();
	Napi::Buffer<uint8_t> value = info[1].As<Napi::Buffer<uint8_t>>();
	uint64_t flags = info[2].As<Napi::Number>().Uint32Value();
	if (bpf_map_update_elem(fd, key.Data(), value.Data(), flags) < 0) {
		int e = errno;
		std::string detail;
		if (e == EEXIST)
			detail = "the key exists (flags 'noexist')";
		else if (e == ENOENT)
			detail = "the key does not exist (flags 'exist')";
		else if (e == E2BIG)
			detail = "the map is full (" + std::to_string(maxEntries_) + " entries)";
		ThrowOs(env, MakeOsError(e, "bpf_map_update_elem", What("update"), detail));
	}
	return env.Undefined();
}

Napi::Value NativeMap::Delete(const Napi::CallbackInfo &info)
{
	Napi::Env env = info.Env();
	int fd = Fd(env, "delete");
	Napi::Buffer<uint8_t> key = info[0].As<Napi::Buffer<uint8_t>>();
	if (bpf_map_delete_elem(fd, key.Data()) < 0) {
		if (errno == ENOENT)
			return Napi::Boolean::New(env, false);
		ThrowOs(env, MakeOsError(errno, "bpf_map_delete_elem", What("delete")));
	}
	return Napi::Boolean::New(env, true);
}

Napi::Value NativeMap::Keys(const Napi::CallbackInfo &info)
{
	Napi::Env env = info.Env();
	int fd = Fd(env, "keys");
	Napi::Array arr = Napi::Array::New(env);
	std::vector<uint8_t> cur(keySize_), next(keySize_);
	const void *prev = nullptr;
	uint32_t i = 0;
	for (;;) {
		if (bpf_map_get_next_key(fd, prev, next.data()) < 0) {
			if (errno == ENOENT)
				break;
			ThrowOs(env, MakeOsError(errno, "bpf_map_get_next_key", What("keys")));
		}
		arr.Set(i++, Napi::Buffer<uint8_t>::Copy(env, next.data(), next.size()));
		cur.swap(next);
		prev = cur.data();
	}
	return arr;
}

// Packed keys and values; BPF_MAP_UPDATE_BATCH when the map type has it, element by element when it does not
// (LPM tries, for one, answer ENOTSUPP/EINVAL). The batch continues from where the kernel stopped.
class BatchWorker : public PromiseWorker {
public:
	BatchWorker(Napi::Env env, int fd, std::string name, const uint8_t *k, size_t kl, const uint8_t *v, size_t vl,
		    uint32_t count, uint32_t keySize, size_t valueBytes)
		: PromiseWorker(env), fd_(fd), name_(std::move(name)), keys_(k, k + kl), values_(v, v + vl), count_(count),
		  keySize_(keySize), valueBytes_(valueBytes)
	{
	}
	~BatchWorker() override
	{
		if (fd_ >= 0)
			close(fd_);
	}
	void Execute() override
	{
		uint32_t done = count_;
		struct bpf_map_batch_opts opts;
		memset(&opts, 0, sizeof(opts));
		opts.sz = sizeof(opts);
		int r = bpf_map_update_batch(fd_, keys_.data(), values_.data(), &done, &opts);
		if (r == 0)
			return;
		int e = errno;
		if (e != EINVAL && e != 524 /* ENOTSUPP */ && e != EOPNOTSUPP) {
			err_ = MakeOsError(e, "bpf_map_update_batch", "map '" + name_ + "': updateBatch",
					   std::to_string(done) + " of " + std::to_string(count_) + " entries were written");
			return;
		}
		if (done > count_)
			done = 0;
		for (uint32_t i = done; i < count_; i++) {
			if (bpf_map_update_elem(fd_, keys_.data() + static_cast<size_t>(i) * keySize_,
						values_.data() + static_cast<size_t>(i) * valueBytes_, BPF_ANY) < 0) {
				err_ = MakeOsError(errno, "bpf_map_update_elem", "map '" + name_ + "': updateBatch",
						   "entry " + std::to_string(i) + " of " + std::to_string(count_) +
							   " failed; entries before it were written");
				return;
			}
		}
	}

private:
	int fd_;
	std::string name_;
	std::vector<uint8_t> keys_, values_;
	uint32_t count_, keySize_;
	size_t valueBytes_;
};

Napi::Value NativeMap::UpdateBatch(const Napi::CallbackInfo &info)
{
	Napi::Env env = info.Env();
	int fd = DupFd(Fd(env, "updateBatch"));
	if (fd < 0)
		ThrowOs(env, MakeOsError(errno, "fcntl", What("updateBatch")));
	Napi::Buffer<uint8_t> keys = info[0].As<Napi::Buffer<uint8_t>>();
	Napi::Buffer<uint8_t> values = info[1].As<Napi::Buffer<uint8_t>>();
	uint32_t count = info[2].As<Napi::Number>().Uint32Value();
	auto *w = new BatchWorker(env, fd, name_, keys.Data(), keys.Length(), values.Data(), values.Length(), count,
				  keySize_, ValueBytes());
	Napi::Promise p = w->Promise();
	w->Queue();
	return p;
}

Napi::Value NativeMap::Pin(const Napi::CallbackInfo &info)
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

Napi::Value NativeMap::Close(const Napi::CallbackInfo &info)
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

void InitMap(Napi::Env env, Napi::Object exports)
{
	Napi::Function ctor = NativeMap::Define(env);
	GetData(env)->mapCtor = Napi::Persistent(ctor);
	exports.Set("NativeMap", ctor);
}

}  // namespace tollgate
