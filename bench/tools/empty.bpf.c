// SPDX-License-Identifier: Apache-2.0
// The floor of the test-run benchmark: a tc program that lets every packet through and does nothing else.
// No headers needed: the context is never read, and TC_ACT_OK is 0.
#define SEC(name) __attribute__((section(name), used))
#define TC_ACT_OK 0

struct __sk_buff;

SEC("tc")
int tgb_empty(struct __sk_buff *skb)
{
	return TC_ACT_OK;
}

char LICENSE[] SEC("license") = "Apache-2.0";
