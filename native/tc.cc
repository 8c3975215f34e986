// tc clsact hooks: attach (atomic replace at the same handle/priority), detach, and list every filter on a hook
// through a netlink dump. Each runs in a worker; the worker enters the requested network namespace and always
// returns to its own (NetnsGuard).
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <linux/bpf.h>
#include <linux/netlink.h>
#include <linux/pkt_cls.h>
#include <linux/pkt_sched.h>
#include <linux/rtnetlink.h>
#include <net/if.h>
#include <arpa/inet.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "common.h"

namespace tollgate {

struct TcTarget {
	std::string ifname;
	std::string netns;  // path of the netns file, or empty
	bool ingress;
	std::string Where() const
	{
		return "'" + ifname + "' " + (ingress ? "ingress" : "egress") + (netns.empty() ? "" : " in netns " + netns);
	}
};

static TcTarget ReadTarget(const Napi::Object &o)
{
	TcTarget t;
	t.ifname = o.Get("ifname").As<Napi::String>().Utf8Value();
	Napi::Value ns = o.Get("netns");
	t.netns = ns.IsString() ? ns.As<Napi::String>().Utf8Value() : "";
	t.ingress = o.Get("direction").As<Napi::String>().Utf8Value() == "ingress";
	return t;
}

static void InitHook(struct bpf_tc_hook *h, int ifindex, bool ingress)
{
	memset(h, 0, sizeof(*h));
	h->sz = sizeof(*h);
	h->ifindex = ifindex;
	h->attach_point = ingress ? BPF_TC_INGRESS : BPF_TC_EGRESS;
}

// Runs `op(target, ifindex, state, err, what)` in a worker that has entered the target's network namespace and found
// its interface; resolves with `result(env, state)`.
template <typename State, typename Op, typename Result = ResolveUndefined>
static Napi::Promise OnHook(Napi::Env env, const std::string &what, TcTarget t, State state, Op op,
			    Result result = Result())
{
	struct HookState {
		TcTarget t;
		State s;
	};
	return RunAsync(
		env, what, HookState{std::move(t), std::move(state)},
		[op](HookState &h, OsError &err, const std::string &what) {
			NetnsGuard ns;
			if (!ns.Enter(h.t.netns, &err))
				return;
			unsigned ifindex = ResolveIfindex(h.t.ifname, h.t.netns, &err);
			if (ifindex)
				op(h.t, static_cast<int>(ifindex), h.s, err, what);
		},
		[result](Napi::Env env, HookState &h) { return result(env, h.s); });
}

struct AttachState {
	OwnedFd prog;
	uint32_t handle, prio, progId = 0;
	bool hookCreated = false;
};

static void AttachWork(const TcTarget &t, int ifindex, AttachState &s, OsError &err, const std::string &what)
{
	struct bpf_tc_hook hook;
	InitHook(&hook, ifindex, t.ingress);
	// Creates the clsact qdisc when the interface has none; we remember whether we did (hook_created).
	int r = bpf_tc_hook_create(&hook);
	bool hookCreated = r == 0;
	if (r < 0 && r != -EEXIST) {
		err = MakeOsError(r, "bpf_tc_hook_create", "creating the clsact qdisc on " + t.Where());
		return;
	}
	struct bpf_tc_opts opts;
	memset(&opts, 0, sizeof(opts));
	opts.sz = sizeof(opts);
	opts.prog_fd = s.prog.Get();
	opts.flags = BPF_TC_F_REPLACE;  // the same handle/priority is swapped atomically
	opts.handle = s.handle;
	opts.priority = s.prio;
	r = bpf_tc_attach(&hook, &opts);
	if (r < 0) {
		err = MakeOsError(r, "bpf_tc_attach", what);
		if (hookCreated) {  // destroy only what we created
			hook.attach_point = static_cast<enum bpf_tc_attach_point>(BPF_TC_INGRESS | BPF_TC_EGRESS);
			bpf_tc_hook_destroy(&hook);
		}
		return;
	}
	s.handle = opts.handle;
	s.prio = opts.priority;
	s.progId = opts.prog_id;
	s.hookCreated = hookCreated;
}

// attachTc({ifname, netns?, direction}, progFd, handle, priority)
static Napi::Value AttachTc(const Napi::CallbackInfo &info)
{
	Napi::Env env = info.Env();
	TcTarget t = ReadTarget(info[0].As<Napi::Object>());
	AttachState st{DupForWorker(env, info[1].As<Napi::Number>().Int32Value(), "attachTc"),
		       info[2].As<Napi::Number>().Uint32Value(), info[3].As<Napi::Number>().Uint32Value()};
	return OnHook(env, "attaching to " + t.Where(), t, std::move(st), AttachWork, [](Napi::Env env, AttachState &s) {
		Napi::Object o = Napi::Object::New(env);
		o.Set("handle", s.handle);
		o.Set("priority", s.prio);
		o.Set("progId", s.progId);
		o.Set("qdiscCreated", s.hookCreated);
		return o;
	});
}

struct FilterId {
	uint32_t handle, prio;
};

static void DetachWork(const TcTarget &t, int ifindex, FilterId &f, OsError &err, const std::string &)
{
	struct bpf_tc_hook hook;
	InitHook(&hook, ifindex, t.ingress);
	struct bpf_tc_opts opts;
	memset(&opts, 0, sizeof(opts));
	opts.sz = sizeof(opts);
	opts.handle = f.handle;
	opts.priority = f.prio;
	int r = bpf_tc_detach(&hook, &opts);
	if (r < 0)
		err = MakeOsError(r, "bpf_tc_detach",
				  "detaching handle " + std::to_string(f.handle) + " priority " + std::to_string(f.prio) +
					  " from " + t.Where(),
				  r == -ENOENT ? "no such filter (or no clsact qdisc) on that hook" : "");
}

static Napi::Value DetachTc(const Napi::CallbackInfo &info)
{
	TcTarget t = ReadTarget(info[0].As<Napi::Object>());
	FilterId f{info[1].As<Napi::Number>().Uint32Value(), info[2].As<Napi::Number>().Uint32Value()};
	return OnHook(info.Env(), "detaching from " + t.Where(), t, f, DetachWork);
}

// Removes the clsact qdisc (and with it every filter on both hooks). Resolves false when there was none.
static void DestroyHookWork(const TcTarget &t, int ifindex, bool &removed, OsError &err, const std::string &what)
{
	struct bpf_tc_hook hook;
	InitHook(&hook, ifindex, true);
	hook.attach_point = static_cast<enum bpf_tc_attach_point>(BPF_TC_INGRESS | BPF_TC_EGRESS);
	int r = bpf_tc_hook_destroy(&hook);
	if (r == -ENOENT || r == -EINVAL) {
		removed = false;  // no clsact qdisc on the interface
		return;
	}
	if (r < 0) {
		err = MakeOsError(r, "bpf_tc_hook_destroy", what);
		return;
	}
	removed = true;
}

static Napi::Value DestroyTcHook(const Napi::CallbackInfo &info)
{
	TcTarget t = ReadTarget(info[0].As<Napi::Object>());
	return OnHook(info.Env(), "removing the clsact qdisc of '" + t.ifname + "'", t, false, DestroyHookWork,
		      [](Napi::Env env, bool &removed) { return Napi::Boolean::New(env, removed); });
}

struct TcFilter {
	uint32_t handle = 0, priority = 0, protocol = 0, progId = 0, chain = 0;
	std::string kind, name;
	bool directAction = false;
};

// RTM_GETTFILTER dump on the clsact parent: every filter on the hook, ours or not.
static bool DumpFilters(int ifindex, bool ingress, std::vector<TcFilter> *out, OsError *err)
{
	int sk = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_ROUTE);
	if (sk < 0) {
		*err = MakeOsError(errno, "netlink", "socket(AF_NETLINK)");
		return false;
	}
	struct {
		struct nlmsghdr nh;
		struct tcmsg tc;
	} req;
	memset(&req, 0, sizeof(req));
	req.nh.nlmsg_len = NLMSG_LENGTH(sizeof(struct tcmsg));
	req.nh.nlmsg_type = RTM_GETTFILTER;
	req.nh.nlmsg_flags = NLM_F_REQUEST | NLM_F_DUMP;
	req.nh.nlmsg_seq = 1;
	req.tc.tcm_family = AF_UNSPEC;
	req.tc.tcm_ifindex = ifindex;
	req.tc.tcm_parent = TC_H_MAKE(TC_H_CLSACT, ingress ? TC_H_MIN_INGRESS : TC_H_MIN_EGRESS);
	if (send(sk, &req, req.nh.nlmsg_len, 0) < 0) {
		*err = MakeOsError(errno, "netlink", "sending RTM_GETTFILTER");
		close(sk);
		return false;
	}
	std::vector<char> buf(64 * 1024);
	bool done = false;
	while (!done) {
		ssize_t n = recv(sk, buf.data(), buf.size(), 0);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			*err = MakeOsError(errno, "netlink", "receiving the filter dump");
			close(sk);
			return false;
		}
		int len = static_cast<int>(n);
		for (struct nlmsghdr *nh = reinterpret_cast<struct nlmsghdr *>(buf.data()); NLMSG_OK(nh, len);
		     nh = NLMSG_NEXT(nh, len)) {
			if (nh->nlmsg_type == NLMSG_DONE) {
				done = true;
				break;
			}
			if (nh->nlmsg_type == NLMSG_ERROR) {
				auto *e = static_cast<struct nlmsgerr *>(NLMSG_DATA(nh));
				if (e->error == 0)
					continue;
				*err = MakeOsError(e->error, "netlink", "RTM_GETTFILTER dump");
				close(sk);
				return false;
			}
			if (nh->nlmsg_type != RTM_NEWTFILTER)
				continue;
			auto *tc = static_cast<struct tcmsg *>(NLMSG_DATA(nh));
			if (tc->tcm_handle == 0)
				continue;  // the per-priority header message, not a filter
			TcFilter f;
			f.handle = tc->tcm_handle;
			f.priority = TC_H_MAJ(tc->tcm_info) >> 16;
			f.protocol = ntohs(static_cast<uint16_t>(TC_H_MIN(tc->tcm_info)));
			int alen = static_cast<int>(nh->nlmsg_len - NLMSG_LENGTH(sizeof(*tc)));
			for (struct rtattr *a = reinterpret_cast<struct rtattr *>(reinterpret_cast<char *>(tc) +
										     NLMSG_ALIGN(sizeof(*tc)));
			     RTA_OK(a, alen); a = RTA_NEXT(a, alen)) {
				if (a->rta_type == TCA_KIND) {
					f.kind = static_cast<const char *>(RTA_DATA(a));
				} else if (a->rta_type == TCA_CHAIN && RTA_PAYLOAD(a) >= 4) {
					memcpy(&f.chain, RTA_DATA(a), 4);
				} else if (a->rta_type == TCA_OPTIONS) {
					int olen = static_cast<int>(RTA_PAYLOAD(a));
					for (struct rtattr *o = static_cast<struct rtattr *>(RTA_DATA(a)); RTA_OK(o, olen);
					     o = RTA_NEXT(o, olen)) {
						if (o->rta_type == TCA_BPF_ID && RTA_PAYLOAD(o) >= 4)
							memcpy(&f.progId, RTA_DATA(o), 4);
						else if (o->rta_type == TCA_BPF_NAME)
							f.name = static_cast<const char *>(RTA_DATA(o));
						else if (o->rta_type == TCA_BPF_FLAGS && RTA_PAYLOAD(o) >= 4) {
							uint32_t fl;
							memcpy(&fl, RTA_DATA(o), 4);
							f.directAction = fl & TCA_BPF_FLAG_ACT_DIRECT;
						}
					}
				}
			}
			out->push_back(f);
		}
	}
	close(sk);
	return true;
}

static Napi::Value ListTc(const Napi::CallbackInfo &info)
{
	TcTarget t = ReadTarget(info[0].As<Napi::Object>());
	return OnHook(
		info.Env(), "listing the filters of " + t.Where(), t, std::vector<TcFilter>(),
		[](const TcTarget &t, int ifindex, std::vector<TcFilter> &filters, OsError &err, const std::string &) {
			DumpFilters(ifindex, t.ingress, &filters, &err);
		},
		[](Napi::Env env, std::vector<TcFilter> &filters) {
			Napi::Array arr = Napi::Array::New(env, filters.size());
			for (size_t i = 0; i < filters.size(); i++) {
				const TcFilter &f = filters[i];
				Napi::Object o = Napi::Object::New(env);
				o.Set("handle", f.handle);
				o.Set("priority", f.priority);
				o.Set("progId", f.progId);
				o.Set("name", f.name);
				o.Set("kind", f.kind);
				o.Set("protocol", f.protocol);
				o.Set("chain", f.chain);
				o.Set("directAction", f.directAction);
				arr.Set(static_cast<uint32_t>(i), o);
			}
			return arr;
		});
}

// ---------------------------------------------------------------------------------------------------------
// tcx (Linux 6.6+): the multi-program BPF hook of an interface that runs before clsact. Debian 12's libbpf (1.1)
// and UAPI headers predate it, so the attr layouts and constants are spelled here (include/uapi/linux/bpf.h of
// 6.6+) and the bpf() syscall is called directly. The syscall acts in the calling thread's network namespace
// (target_ifindex is looked up there), hence the same netns workers as the tc operations.

namespace tcx {
constexpr uint32_t kIngress = 46;  // BPF_TCX_INGRESS
constexpr uint32_t kEgress = 47;   // BPF_TCX_EGRESS
constexpr uint32_t kFReplace = 1U << 2;  // BPF_F_REPLACE
constexpr uint32_t kFBefore = 1U << 3;   // BPF_F_BEFORE (without a relative: first in the hook)

struct AttachAttr {  // BPF_PROG_ATTACH / BPF_PROG_DETACH
	uint32_t targetIfindex;
	uint32_t attachBpfFd;
	uint32_t attachType;
	uint32_t attachFlags;
	uint32_t replaceBpfFd;
	uint32_t relativeFd;
	uint64_t expectedRevision;
};
static_assert(sizeof(AttachAttr) == 32, "BPF_PROG_ATTACH attr layout");

struct QueryAttr {  // BPF_PROG_QUERY
	uint32_t targetIfindex;
	uint32_t attachType;
	uint32_t queryFlags;
	uint32_t attachFlags;
	uint64_t progIds;
	uint32_t count;
	uint32_t pad;
	uint64_t progAttachFlags;
	uint64_t linkIds;
	uint64_t linkAttachFlags;
	uint64_t revision;
};
static_assert(sizeof(QueryAttr) == 64, "BPF_PROG_QUERY attr layout");

// bpf(cmd, attr): 0 or -errno. The attr is copied into a zeroed union-sized buffer (the kernel checks the bytes
// past the fields a command uses are zero).
template <typename Attr>
static int Sys(int cmd, const Attr &a, Attr *out = nullptr)
{
	union bpf_attr u;
	memset(&u, 0, sizeof(u));
	static_assert(sizeof(Attr) <= sizeof(u), "attr fits");
	memcpy(&u, &a, sizeof(Attr));
	long r = syscall(__NR_bpf, cmd, &u, sizeof(u));
	int e = errno;
	if (out)
		memcpy(out, &u, sizeof(Attr));  // also on ENOSPC: a query then says how many there are
	return r < 0 ? -e : static_cast<int>(r);
}

static uint32_t Type(bool ingress)
{
	return ingress ? kIngress : kEgress;
}

// The programs on the hook, first to last. -errno on failure (EINVAL on a kernel without tcx).
static int Query(int ifindex, bool ingress, std::vector<uint32_t> *ids, uint64_t *revision)
{
	for (;;) {
		QueryAttr q;
		memset(&q, 0, sizeof(q));
		q.targetIfindex = static_cast<uint32_t>(ifindex);
		q.attachType = Type(ingress);
		q.count = static_cast<uint32_t>(ids->size());
		q.progIds = ids->empty() ? 0 : reinterpret_cast<uintptr_t>(ids->data());
		QueryAttr out;
		memset(&out, 0, sizeof(out));
		int r = Sys(BPF_PROG_QUERY, q, &out);
		if (r == -ENOSPC || (r == 0 && out.count > ids->size())) {
			ids->assign(out.count, 0);  // the hook changed between two calls: ask again with room for all
			continue;
		}
		if (r < 0)
			return r;
		ids->resize(out.count);
		if (revision)
			*revision = out.revision;
		return 0;
	}
}

static std::string ProgName(uint32_t id)
{
	int fd = bpf_prog_get_fd_by_id(id);
	if (fd < 0)
		return "";  // gone meanwhile
	struct bpf_prog_info info;
	memset(&info, 0, sizeof(info));
	uint32_t len = sizeof(info);
	std::string name;
	if (bpf_obj_get_info_by_fd(fd, &info, &len) == 0)
		name = info.name;
	close(fd);
	return name;
}
}  // namespace tcx

struct TcxAttachState {
	OwnedFd prog;
	uint32_t replaceId;  // 0: a new program, first in the hook
	uint32_t progId = 0;
};

static void TcxAttachWork(const TcTarget &t, int ifindex, TcxAttachState &s, OsError &err, const std::string &what)
{
	tcx::AttachAttr a;
	memset(&a, 0, sizeof(a));
	a.targetIfindex = static_cast<uint32_t>(ifindex);
	a.attachBpfFd = static_cast<uint32_t>(s.prog.Get());
	a.attachType = tcx::Type(t.ingress);
	OwnedFd replace;
	if (s.replaceId != 0) {
		replace = OwnedFd(bpf_prog_get_fd_by_id(s.replaceId));
		if (replace.Get() < 0) {
			err = MakeOsError(errno, "bpf(BPF_PROG_GET_FD_BY_ID)", what,
					  "program " + std::to_string(s.replaceId) + " (the one to replace) is gone");
			return;
		}
		a.attachFlags = tcx::kFReplace;  // swapped in place, atomically
		a.replaceBpfFd = static_cast<uint32_t>(replace.Get());
	} else {
		a.attachFlags = tcx::kFBefore;
	}
	int r = tcx::Sys(BPF_PROG_ATTACH, a);
	if (r < 0) {
		err = MakeOsError(r, "bpf(BPF_PROG_ATTACH)", what,
				  r == -ENOENT && s.replaceId ? "program " + std::to_string(s.replaceId) + " is not on that hook"
				  : r == -EEXIST		? "the program is already on that hook"
								: "");
		return;
	}
	struct bpf_prog_info info;
	memset(&info, 0, sizeof(info));
	uint32_t len = sizeof(info);
	if (bpf_obj_get_info_by_fd(s.prog.Get(), &info, &len) == 0)
		s.progId = info.id;
}

// tcxAttach({ifname, netns?, direction}, progFd, replaceProgId)
static Napi::Value TcxAttach(const Napi::CallbackInfo &info)
{
	Napi::Env env = info.Env();
	TcTarget t = ReadTarget(info[0].As<Napi::Object>());
	TcxAttachState st{DupForWorker(env, info[1].As<Napi::Number>().Int32Value(), "tcxAttach"),
			  info[2].As<Napi::Number>().Uint32Value()};
	return OnHook(env, "attaching to tcx " + t.Where(), t, std::move(st), TcxAttachWork,
		      [](Napi::Env env, TcxAttachState &s) {
			      Napi::Object o = Napi::Object::New(env);
			      o.Set("progId", s.progId);
			      return o;
		      });
}

// tcxDetach({ifname, netns?, direction}, progId): the program is named by id (its fd from BPF_PROG_GET_FD_BY_ID).
static void TcxDetachWork(const TcTarget &t, int ifindex, uint32_t &progId, OsError &err, const std::string &what)
{
	OwnedFd fd(bpf_prog_get_fd_by_id(progId));
	if (fd.Get() < 0) {
		err = MakeOsError(errno, "bpf(BPF_PROG_GET_FD_BY_ID)", what, "no program " + std::to_string(progId));
		return;
	}
	tcx::AttachAttr a;
	memset(&a, 0, sizeof(a));
	a.targetIfindex = static_cast<uint32_t>(ifindex);
	a.attachBpfFd = static_cast<uint32_t>(fd.Get());
	a.attachType = tcx::Type(t.ingress);
	int r = tcx::Sys(BPF_PROG_DETACH, a);
	if (r < 0)
		err = MakeOsError(r, "bpf(BPF_PROG_DETACH)", what,
				  r == -ENOENT ? "program " + std::to_string(progId) + " is not on that hook" : "");
}

static Napi::Value TcxDetach(const Napi::CallbackInfo &info)
{
	TcTarget t = ReadTarget(info[0].As<Napi::Object>());
	uint32_t id = info[1].As<Napi::Number>().Uint32Value();
	return OnHook(info.Env(), "detaching program " + std::to_string(id) + " from tcx " + t.Where(), t, id,
		      TcxDetachWork);
}

struct TcxListing {
	std::vector<uint32_t> ids;
	std::vector<std::string> names;
	uint64_t revision = 0;
};

static Napi::Value TcxList(const Napi::CallbackInfo &info)
{
	TcTarget t = ReadTarget(info[0].As<Napi::Object>());
	return OnHook(
		info.Env(), "listing the tcx programs of " + t.Where(), t, TcxListing(),
		[](const TcTarget &t, int ifindex, TcxListing &l, OsError &err, const std::string &what) {
			int r = tcx::Query(ifindex, t.ingress, &l.ids, &l.revision);
			if (r < 0) {
				err = MakeOsError(r, "bpf(BPF_PROG_QUERY)", what,
						  r == -EINVAL ? "this kernel has no tcx hooks (Linux 6.6+)" : "");
				return;
			}
			for (uint32_t id : l.ids)
				l.names.push_back(tcx::ProgName(id));
		},
		[](Napi::Env env, TcxListing &l) {
			Napi::Object o = Napi::Object::New(env);
			Napi::Array arr = Napi::Array::New(env, l.ids.size());
			for (size_t i = 0; i < l.ids.size(); i++) {
				Napi::Object p = Napi::Object::New(env);
				p.Set("progId", l.ids[i]);
				p.Set("name", l.names[i]);
				arr.Set(static_cast<uint32_t>(i), p);
			}
			o.Set("programs", arr);
			o.Set("revision", static_cast<double>(l.revision));
			return o;
		});
}

// tcxSupported(): a query of lo's ingress hook in the caller's namespace (lo is always ifindex 1). EINVAL or
// EOPNOTSUPP: no tcx; other errors (EPERM) are thrown.
static Napi::Value TcxSupported(const Napi::CallbackInfo &info)
{
	std::vector<uint32_t> ids;
	int r = tcx::Query(1, true, &ids, nullptr);
	if (r == -EINVAL || r == -EOPNOTSUPP)
		return Napi::Boolean::New(info.Env(), false);
	if (r < 0)
		ThrowOs(info.Env(), MakeOsError(r, "bpf(BPF_PROG_QUERY)", "probing for tcx on lo"));
	return Napi::Boolean::New(info.Env(), true);
}

void InitTc(Napi::Env env, Napi::Object exports)
{
	exports.Set("attachTc", Napi::Function::New<AttachTc>(env, "attachTc"));
	exports.Set("detachTc", Napi::Function::New<DetachTc>(env, "detachTc"));
	exports.Set("listTc", Napi::Function::New<ListTc>(env, "listTc"));
	exports.Set("destroyTcHook", Napi::Function::New<DestroyTcHook>(env, "destroyTcHook"));
	exports.Set("tcxAttach", Napi::Function::New<TcxAttach>(env, "tcxAttach"));
	exports.Set("tcxDetach", Napi::Function::New<TcxDetach>(env, "tcxDetach"));
	exports.Set("tcxList", Napi::Function::New<TcxList>(env, "tcxList"));
	exports.Set("tcxSupported", Napi::Function::New<TcxSupported>(env, "tcxSupported"));
}

}  // namespace tollgate
