// The CUDA emulator's device: kernels run as fibers, one per GPU thread, that switch only at
// barriers (see include/cuda_runtime.h for why).
#include <signal.h>
#include <sys/mman.h>
#include <ucontext.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <map>
#include <mutex>
#include <new>
#include <vector>

#include "emu_internal.h"

// Switching fibers is most of the emulator's time: on x86-64 a switch saves only what the ABI
// says a call preserves (glibc's swapcontext also saves the signal mask, a system call).
#if defined(__x86_64__)
extern "C" void wick_emu_switch(void** save_sp, void* load_sp);
asm(R"(
  .pushsection .text
  .globl wick_emu_switch
  .type wick_emu_switch, @function
wick_emu_switch:
  pushq %rbp
  pushq %rbx
  pushq %r12
  pushq %r13
  pushq %r14
  pushq %r15
  subq $8, %rsp
  stmxcsr (%rsp)
  fnstcw 4(%rsp)
  movq %rsp, (%rdi)
  movq %rsi, %rsp
  ldmxcsr (%rsp)
  fldcw 4(%rsp)
  addq $8, %rsp
  popq %r15
  popq %r14
  popq %r13
  popq %r12
  popq %rbx
  popq %rbp
  ret
  .size wick_emu_switch, .-wick_emu_switch
  .popsection
)");
#endif

namespace wick_emu {

namespace {

constexpr size_t kFiberStack = 256 * 1024;

// ---- Fibers ----

enum class FiberState { kRunnable, kBlockBarrier, kWarpBarrier, kDone };

// A saved execution context: a stack pointer (x86-64) or a ucontext.
struct Context {
#if defined(__x86_64__)
  void* sp = nullptr;
#else
  ucontext_t uc;
#endif
};

void SwitchTo(Context& save, Context& load) {
#if defined(__x86_64__)
  wick_emu_switch(&save.sp, load.sp);
#else
  swapcontext(&save.uc, &load.uc);
#endif
}

struct Fiber {
  Context context;
  ThreadContext where;
  FiberState state = FiberState::kRunnable;
  unsigned warp_mask = 0;
  uint8_t* stack = nullptr;
};

struct WarpSlots {
  alignas(16) uint8_t bytes[2][32][16];
  unsigned epoch[32];  // per lane: exchanges done
};

struct BlockRun {
  const LaunchConfig* config;
  const std::function<void()>* body;
  std::vector<Fiber> fibers;
  std::vector<WarpSlots> warps;
  std::vector<uint8_t> shared;
  Context scheduler;
  Fiber* current = nullptr;
  std::string fault;
};

thread_local BlockRun* running = nullptr;
thread_local std::vector<uint8_t*> stack_pool;

uint8_t* TakeStack() {
  if (!stack_pool.empty()) {
    uint8_t* s = stack_pool.back();
    stack_pool.pop_back();
    return s;
  }
  void* s = mmap(nullptr, kFiberStack, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (s == MAP_FAILED) throw std::bad_alloc();
  return static_cast<uint8_t*>(s);
}

int LinearThread(const ThreadContext& t) {
  return static_cast<int>(t.thread_idx.x +
                          t.block_dim.x * (t.thread_idx.y + t.block_dim.y * t.thread_idx.z));
}

void Yield(FiberState state) {
  BlockRun* run = running;
  Fiber* f = run->current;
  f->state = state;
  // The scheduler resumes the fiber when its barrier is released.
  SwitchTo(f->context, run->scheduler);
}

// A fault in device code: recorded, and the fiber hands control back for good.
[[noreturn]] void AbandonFiber() {
  BlockRun* run = running;
  Fiber* f = run->current;
  f->state = FiberState::kDone;
  SwitchTo(f->context, run->scheduler);
  std::abort();  // a finished fiber is never resumed
}

[[noreturn]] void FiberMain() {
  BlockRun* run = running;
  (*run->body)();
  Fiber* f = run->current;
  f->state = FiberState::kDone;
  SwitchTo(f->context, run->scheduler);
  std::abort();
}

// Sets up `f` to start in FiberMain on its own stack.
void StartFiber(Fiber& f) {
#if defined(__x86_64__)
  // What wick_emu_switch pops: the control words, six registers, then FiberMain as the return
  // address, placed so that FiberMain starts with the stack aligned as after a call.
  auto top = reinterpret_cast<uintptr_t>(f.stack + kFiberStack) & ~uintptr_t{15};
  auto* frame = reinterpret_cast<uint64_t*>(top - 72);
  uint32_t mxcsr = 0;
  uint16_t fpucw = 0;
  asm volatile("stmxcsr %0" : "=m"(mxcsr));
  asm volatile("fnstcw %0" : "=m"(fpucw));
  frame[0] = uint64_t{mxcsr} | uint64_t{fpucw} << 32;
  for (int i = 1; i <= 6; ++i) frame[i] = 0;
  frame[7] = reinterpret_cast<uint64_t>(&FiberMain);
  frame[8] = 0;  // FiberMain never returns
  f.context.sp = frame;
#else
  getcontext(&f.context.uc);
  f.context.uc.uc_stack.ss_sp = f.stack;
  f.context.uc.uc_stack.ss_size = kFiberStack;
  f.context.uc.uc_link = nullptr;
  makecontext(&f.context.uc, reinterpret_cast<void (*)()>(&FiberMain), 0);
#endif
}

std::string Describe(const LaunchConfig& c, const ThreadContext* t) {
  char buf[256];
  if (t == nullptr) {
    std::snprintf(buf, sizeof buf, "%s<<<(%u,%u,%u), (%u,%u,%u), %zu>>>", c.name, c.grid.x,
                  c.grid.y, c.grid.z, c.block.x, c.block.y, c.block.z, c.shared_bytes);
  } else {
    std::snprintf(buf, sizeof buf,
                  "%s<<<(%u,%u,%u), (%u,%u,%u), %zu>>> block (%u,%u,%u) thread "
                  "(%u,%u,%u)",
                  c.name, c.grid.x, c.grid.y, c.grid.z, c.block.x, c.block.y, c.block.z,
                  c.shared_bytes, t->block_idx.x, t->block_idx.y, t->block_idx.z, t->thread_idx.x,
                  t->thread_idx.y, t->thread_idx.z);
  }
  return buf;
}

// Releases the barriers that every fiber they wait for has reached. Returns false where
// nothing can move: a deadlock, recorded as a fault.
bool ReleaseBarriers(BlockRun& run) {
  const int n = static_cast<int>(run.fibers.size());
  bool released = false;
  // Warp barriers.
  for (int w0 = 0; w0 < n; w0 += 32) {
    const int lanes = std::min(32, n - w0);
    unsigned waiting = 0, mask = 0;
    bool mixed = false;
    for (int l = 0; l < lanes; ++l) {
      const Fiber& f = run.fibers[w0 + l];
      if (f.state != FiberState::kWarpBarrier) continue;
      if (waiting != 0 && f.warp_mask != mask) mixed = true;
      mask = f.warp_mask;
      waiting |= 1u << l;
    }
    if (waiting == 0 || mixed) continue;
    bool ready = true;
    for (int l = 0; l < 32; ++l) {
      if (!(mask >> l & 1u)) continue;
      if (l >= lanes || run.fibers[w0 + l].state == FiberState::kDone) {
        run.fault = "a warp barrier or shuffle names lane " + std::to_string(l) +
                    ", which does not exist or has exited";
        return false;
      }
      if (!(waiting >> l & 1u)) ready = false;
    }
    if (!ready) continue;
    for (int l = 0; l < lanes; ++l) {
      if (waiting >> l & 1u) run.fibers[w0 + l].state = FiberState::kRunnable;
    }
    released = true;
  }
  if (released) return true;
  // The block barrier: every thread that has not exited is at it.
  bool all = true, any = false;
  for (const Fiber& f : run.fibers) {
    if (f.state == FiberState::kDone) continue;
    if (f.state != FiberState::kBlockBarrier) all = false;
    any = true;
  }
  if (any && all) {
    for (Fiber& f : run.fibers) {
      if (f.state == FiberState::kBlockBarrier) f.state = FiberState::kRunnable;
    }
    return true;
  }
  if (!any) return true;
  run.fault =
      "deadlock: threads wait at barriers that can never be released (a __syncthreads "
      "or warp operation that not every thread reaches)";
  return false;
}

std::string RunBlock(const LaunchConfig& config, const std::function<void()>& body,
                     dim3 block_idx) {
  BlockRun run;
  run.config = &config;
  run.body = &body;
  const int threads = static_cast<int>(config.block.x * config.block.y * config.block.z);
  run.fibers.resize(threads);
  run.warps.resize((threads + 31) / 32);
  for (auto& w : run.warps) std::memset(w.epoch, 0, sizeof w.epoch);
  run.shared.assign(config.shared_bytes + 128, 0xff);
  running = &run;
  for (int i = 0; i < threads; ++i) {
    Fiber& f = run.fibers[i];
    f.where.block_dim = config.block;
    f.where.grid_dim = config.grid;
    f.where.block_idx = block_idx;
    f.where.thread_idx = dim3(i % config.block.x, i / config.block.x % config.block.y,
                              i / (config.block.x * config.block.y));
    f.stack = TakeStack();
    StartFiber(f);
  }
  for (;;) {
    for (Fiber& f : run.fibers) {
      if (f.state != FiberState::kRunnable) continue;
      run.current = &f;
      SwitchTo(run.scheduler, f.context);
      if (!run.fault.empty()) break;
    }
    if (!run.fault.empty()) break;
    bool done = true;
    for (const Fiber& f : run.fibers) done = done && f.state == FiberState::kDone;
    if (done) break;
    if (!ReleaseBarriers(run)) break;
  }
  std::string fault;
  if (!run.fault.empty()) {
    fault =
        Describe(config, run.current != nullptr ? &run.current->where : nullptr) + ": " + run.fault;
  }
  for (Fiber& f : run.fibers) stack_pool.push_back(f.stack);
  running = nullptr;
  return fault;
}

// ---- Kernels ----

std::mutex attribute_mutex;
std::map<const void*, size_t> max_dynamic_shared;

void SegvHandler(int sig, siginfo_t* info, void*) {
  char buf[512];
  int len = 0;
  if (running != nullptr && running->current != nullptr) {
    const std::string where = Describe(*running->config, &running->current->where);
    len = std::snprintf(buf, sizeof buf,
                        "cuda-emu: illegal address %p in %s (out of bounds of a device "
                        "allocation, or a host pointer)\n",
                        info->si_addr, where.c_str());
  } else {
    len = std::snprintf(buf, sizeof buf, "cuda-emu: segmentation fault at %p outside kernels\n",
                        info->si_addr);
  }
  if (len > 0) (void)!write(2, buf, static_cast<size_t>(std::min<int>(len, sizeof buf - 1)));
  signal(sig, SIG_DFL);
  raise(sig);
}

void InstallSegvHandler() {
  static std::once_flag once;
  std::call_once(once, [] {
    // Fiber stacks are small; the handler runs on its own stack.
    static std::vector<uint8_t> alt(1 << 16);
    stack_t ss{};
    ss.ss_sp = alt.data();
    ss.ss_size = alt.size();
    sigaltstack(&ss, nullptr);
    struct sigaction sa {};
    sa.sa_sigaction = SegvHandler;
    sa.sa_flags = SA_SIGINFO | SA_ONSTACK;
    sigaction(SIGSEGV, &sa, nullptr);
    sigaction(SIGBUS, &sa, nullptr);
  });
}

}  // namespace

cudaError_t RunKernel(const LaunchConfig& config, const std::function<void()>& body) {
  InstallSegvHandler();
  for (unsigned z = 0; z < config.grid.z; ++z) {
    for (unsigned y = 0; y < config.grid.y; ++y) {
      for (unsigned x = 0; x < config.grid.x; ++x) {
        const std::string fault = RunBlock(config, body, dim3(x, y, z));
        if (!fault.empty()) return Fail(cudaErrorLaunchFailure, fault);
      }
    }
  }
  return cudaSuccess;
}

cudaError_t CheckConfig(const LaunchConfig& c) {
  const uint64_t threads = uint64_t{c.block.x} * c.block.y * c.block.z;
  if (threads == 0 || threads > 1024 || c.block.z > 64 || c.grid.x == 0 || c.grid.y == 0 ||
      c.grid.z == 0 || c.grid.y > 65535 || c.grid.z > 65535 || c.grid.x > 0x7fffffffu) {
    return Fail(cudaErrorInvalidConfiguration,
                Describe(c, nullptr) + ": invalid grid or block dimensions");
  }
  size_t limit = kDefaultDynamicShared;
  {
    std::lock_guard lock(attribute_mutex);
    auto it = max_dynamic_shared.find(c.fn);
    if (it != max_dynamic_shared.end()) limit = it->second;
  }
  if (c.shared_bytes > limit) {
    return Fail(cudaErrorInvalidValue,
                Describe(c, nullptr) + ": " + std::to_string(c.shared_bytes) +
                    " bytes of dynamic shared memory, above the kernel's limit of " +
                    std::to_string(limit) + " (cudaFuncSetAttribute raises it)");
  }
  return cudaSuccess;
}

// ---- Device-side entry points ----

ThreadContext& Current() {
  if (running == nullptr || running->current == nullptr) {
    std::fprintf(stderr, "cuda-emu: a device built-in was used outside a kernel\n");
    std::abort();
  }
  return running->current->where;
}

void SyncThreads() {
  Yield(FiberState::kBlockBarrier);
}

void SyncWarp(unsigned mask) {
  const int lane = LaneId();
  if (!(mask >> lane & 1u)) DeviceFault("__syncwarp by a lane outside its mask");
  running->current->warp_mask = mask;
  Yield(FiberState::kWarpBarrier);
}

int LaneId() {
  return LinearThread(Current()) % 32;
}

void WarpExchange(unsigned mask, const void* in, void* out, size_t size, int src_lane) {
  BlockRun* run = running;
  const int t = LinearThread(Current());
  WarpSlots& w = run->warps[t / 32];
  const int lane = t % 32;
  if (!(mask >> src_lane & 1u)) DeviceFault("a shuffle reads a lane outside its mask");
  const unsigned epoch = w.epoch[lane]++;
  std::memcpy(w.bytes[epoch % 2][lane], in, size);
  SyncWarp(mask);
  // The source lane has done this shuffle, and may have run on into the next one (which writes
  // the other slot) but no further: it waits there for this lane.
  const unsigned src_epoch = w.epoch[src_lane];
  if (src_epoch != epoch + 1 && src_epoch != epoch + 2) {
    DeviceFault("the lanes of a shuffle are at different shuffles (divergent warp)");
  }
  std::memcpy(out, w.bytes[epoch % 2][src_lane], size);
}

void WarpGather(const void* in, void* out, size_t size) {
  if (size > sizeof(WarpSlots::bytes[0][0])) DeviceFault("a warp gather of more than 16 bytes");
  BlockRun* run = running;
  const int t = LinearThread(Current());
  WarpSlots& w = run->warps[t / 32];
  const int lane = t % 32;
  const unsigned epoch = w.epoch[lane]++;
  std::memcpy(w.bytes[epoch % 2][lane], in, size);
  SyncWarp(0xffffffffu);
  for (int src = 0; src < 32; ++src) {
    const unsigned src_epoch = w.epoch[src];
    if (src_epoch != epoch + 1 && src_epoch != epoch + 2) {
      DeviceFault("the lanes of a warp-wide instruction are at different ones (divergent warp)");
    }
    std::memcpy(static_cast<uint8_t*>(out) + src * size, w.bytes[epoch % 2][src], size);
  }
}

void* DynamicShared() {
  if (running == nullptr) DeviceFault("dynamic shared memory outside a kernel");
  // 128-byte aligned, as the GPU's dynamic shared memory is at least.
  auto p = reinterpret_cast<uintptr_t>(running->shared.data());
  return reinterpret_cast<void*>((p + 127) / 128 * 128);
}

void DeviceFault(const std::string& what) {
  if (running == nullptr) {
    std::fprintf(stderr, "cuda-emu: %s\n", what.c_str());
    std::abort();
  }
  running->fault = what;
  AbandonFiber();
}

cudaError_t SetMaxDynamicShared(const void* fn, int bytes) {
  if (bytes < 0 || static_cast<size_t>(bytes) > kMaxDynamicShared) {
    return Fail(cudaErrorInvalidValue, "cudaFuncSetAttribute: " + std::to_string(bytes) +
                                           " bytes of dynamic shared memory is above sm_90's " +
                                           std::to_string(kMaxDynamicShared));
  }
  std::lock_guard lock(attribute_mutex);
  max_dynamic_shared[fn] = static_cast<size_t>(bytes);
  return cudaSuccess;
}

}  // namespace wick_emu
