// The netfilter backends: the same IR as iptables-restore input (flat, or Calico-style with ipsets) and as an
// nftables ruleset. Used by `tollgate compile --emit iptables|iptables-calico|nftables` and by the benchmarks,
// which load the same rules into every dataplane.
export { emitIptables, emitIp6tables, MARK, type IptablesOptions, type IptablesOutput, type IptablesStyle } from './iptables';
export { emitNftables, type NftOptions, type NftOutput } from './nftables';
