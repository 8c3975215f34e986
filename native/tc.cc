// tc clsact hooks: attach (atomic replace at the same handle/priority), detach, and list every filter on a hook
// through a netlink dump. Each runs in a worker; the worker enters the requested network namespace and always
// returns to its own (NetnsGuard).
#include <bpf/libbpf.h>
#include <linux/netlink.h>
#include <linux/pkt_cls.h>
#include <linux/pkt_sched.h>
#include <linux/rtnetlink.h>
#include <net/if.h>
#include <arpa/inet.h>
#include <sys/socket.h>
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

void InitTc(Napi::Env env, Napi::Object exports)
{
	exports.Set("attachTc", Napi::Function::New<AttachTc>(env, "attachTc"));
	exports.Set("detachTc", Napi::Function::New<DetachTc>(env, "detachTc"));
	exports.Set("listTc", Napi::Function::New<ListTc>(env, "listTc"));
	exports.Set("destroyTcHook", Napi::Function::New<DestroyTcHook>(env, "destroyTcHook"));
}

}  // namespace tollgate
