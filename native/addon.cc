// Entry point of tollgate_native: registers the classes and functions and the exit-time cleanup hook.
#include "common.h"

namespace tollgate {

static Napi::Object Init(Napi::Env env, Napi::Object exports)
{
	auto *data = new AddonData();
	env.SetInstanceData<AddonData>(data);
	LibbpfCapture::Install();
	InitObject(env, exports);
	InitMap(env, exports);
	InitProgram(env, exports);
	InitTc(env, exports);
	InitSystem(env, exports);
	// Handles of this environment still open when it goes away are released here (finalizers may never run).
	std::shared_ptr<LiveSet> live = data->live;
	env.AddCleanupHook([live]() { live->CloseAll(); });
	return exports;
}

}  // namespace tollgate

static Napi::Object InitAddon(Napi::Env env, Napi::Object exports)
{
	return tollgate::Init(env, exports);
}

NODE_API_MODULE(tollgate_native, InitAddon)
