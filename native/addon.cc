// Entry point of tollgate_native: registers the classes and functions and the exit-time cleanup hook.
#include "common.h"

namespace tollgate {

static Napi::Object Init(Napi::Env env, Napi::Object exports)
{
	env.SetInstanceData<AddonData>(new AddonData());
	LibbpfCapture::Install();
	InitObject(env, exports);
	InitMap(env, exports);
	InitProgram(env, exports);
	InitTc(env, exports);
	InitSystem(env, exports);
	// Handles still open when the environment goes away are released here (finalizers may never run).
	env.AddCleanupHook([]() { CloseAllLive(); });
	return exports;
}

}  // namespace tollgate

static Napi::Object InitAddon(Napi::Env env, Napi::Object exports)
{
	return tollgate::Init(env, exports);
}

NODE_API_MODULE(tollgate_native, InitAddon)
