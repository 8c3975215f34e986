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

class NativeMap : public Napi::ObjectWrap<NativeMap>, public FdHandle {
public:
	static Napi::Function Define(Napi::Env env);
	explicit NativeMap(const Napi::CallbackInfo &info);

private:
	static Napi::Value OpenPinned(const Napi::CallbackInfo &info);
	Napi::Value Lookup(const Napi::CallbackInfo &info);
	Napi::Value Update(const Napi::CallbackInfo &info);
	Napi::Value Delete(const Napi::CallbackInfo &info);
	Napi::Value UpdateBatch(const Napi::CallbackInfo &info);
	Napi::Value Keys(const Napi::CallbackInfo &info);
	Napi::Value Info(const Napi::CallbackInfo &info);

	size_t ValueBytes() const
	{
		return perCpu_ ? ((valueSize_ + 7) & ~7u) * static_cast<size_t>(NumPossibleCpus()) : valueSize_;
	}

	uint32_t type_ = 0, keySize_ = 0, valueSize_ = 0, maxEntries_ = 0, flags_ = 0, id_ = 0;
	bool perCpu_ = false;
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
				   InstanceMethod("pin", &NativeMap::Pin),
				   InstanceMethod("close", &NativeMap::Close),
				   InstanceMethod<&NativeMap::Info>("info"),
			   });
}

NativeMap::NativeMap(const Napi::CallbackInfo &info) : Napi::ObjectWrap<NativeMap>(info), FdHandle("map")
{
	struct bpf_map_info mi = Adopt<bpf_map_info>(info, "BpfMap handles come from BpfObject.map() or BpfMap.openPinned()");
	type_ = mi.type;
	keySize_ = mi.key_size;
	valueSize_ = mi.value_size;
	maxEntries_ = mi.max_entries;
	flags_ = mi.map_flags;
	id_ = mi.id;
	perCpu_ = IsPerCpuMapType(type_);
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

// Packed keys and values, read from the caller's Buffers (held, not copied); BPF_MAP_UPDATE_BATCH when the map
// type has it, element by element when it does not (LPM tries, for one, answer ENOTSUPP/EINVAL). The batch
// continues from where the kernel stopped.
struct BatchState {
	OwnedFd fd;
	HeldBuffer keys, values;
	uint32_t count, keySize;
	size_t valueBytes;
};

static void UpdateBatchWork(BatchState &s, OsError &err, const std::string &what)
{
	uint32_t done = s.count;
	struct bpf_map_batch_opts opts;
	memset(&opts, 0, sizeof(opts));
	opts.sz = sizeof(opts);
	if (bpf_map_update_batch(s.fd.Get(), s.keys.data, s.values.data, &done, &opts) == 0)
		return;
	int e = errno;
	if (e != EINVAL && e != 524 /* ENOTSUPP */ && e != EOPNOTSUPP) {
		err = MakeOsError(e, "bpf_map_update_batch", what,
				  std::to_string(done) + " of " + std::to_string(s.count) + " entries were written");
		return;
	}
	if (done > s.count)
		done = 0;
	for (uint32_t i = done; i < s.count; i++) {
		if (bpf_map_update_elem(s.fd.Get(), s.keys.data + static_cast<size_t>(i) * s.keySize,
					s.values.data + static_cast<size_t>(i) * s.valueBytes, BPF_ANY) < 0) {
			err = MakeOsError(errno, "bpf_map_update_elem", what,
					  "entry " + std::to_string(i) + " of " + std::to_string(s.count) +
						  " failed; entries before it were written");
			return;
		}
	}
}

Napi::Value NativeMap::UpdateBatch(const Napi::CallbackInfo &info)
{
	Napi::Env env = info.Env();
	std::string what = What("updateBatch");
	OwnedFd fd = DupForWorker(env, Fd(env, "updateBatch"), what);
	BatchState st{std::move(fd),
		      HeldBuffer(info[0].As<Napi::Buffer<uint8_t>>()),
		      HeldBuffer(info[1].As<Napi::Buffer<uint8_t>>()),
		      info[2].As<Napi::Number>().Uint32Value(),
		      keySize_,
		      ValueBytes()};
	return RunAsync(env, what, std::move(st), UpdateBatchWork);
}

void InitMap(Napi::Env env, Napi::Object exports)
{
	Napi::Function ctor = NativeMap::Define(env);
	GetData(env)->mapCtor = Napi::Persistent(ctor);
	exports.Set("NativeMap", ctor);
}

}  // namespace tollgate
