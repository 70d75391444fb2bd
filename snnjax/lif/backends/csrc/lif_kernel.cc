// snnjax CPU event kernel: exact LIF spike times (forward) and their exact gradients
// (backward), as XLA FFI custom calls: the "ffi" event backend
// (snnjax/lif/backends/ffi.py). Same algorithm and conventions as the pure-JAX "loop"
// backend (snnjax/lif/backends/loop.py, the reference and the path used on GPU/TPU); this
// file only removes XLA's per-event loop overhead on CPU.
//
// Conventions (B samples, E events, n_in inputs, N neurons, K slots):
//   event_times [B, E] sorted, +inf padded, all < t_max;  event_source [B, E] int32
//   weights [n_in, N];  theta, delta_theta [N];  tau_syn, t_max: 0-d buffers (traced
//   values, so not FFI attributes, which are compile-time constants).
// State per neuron is kept relative to the current event time (decays only), so nothing
// overflows however long the simulation.
//
// Integer safety: every index is int64 inside; the int32 outputs (event indices, slots,
// counts) are checked to fit (each call returns InvalidArgument otherwise, never writes out
// of bounds), and a neuron's spike count saturates at kSpikeCountLimit (INT32_MAX): the
// neuron is not simulated further (its K slots are long full), so n_spikes never wraps.

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>
#include <vector>

#include <omp.h>

#include "xla/ffi/api/ffi.h"

namespace ffi = xla::ffi;

// A neuron stops being simulated when its spike count reaches this (the count saturates;
// a build for tests may lower it with -DSNNJAX_SPIKE_COUNT_LIMIT=n).
#ifndef SNNJAX_SPIKE_COUNT_LIMIT
#define SNNJAX_SPIKE_COUNT_LIMIT 2147483647
#endif

namespace {

constexpr int32_t kSpikeCountLimit = SNNJAX_SPIKE_COUNT_LIMIT;
constexpr int64_t kInt32Max = std::numeric_limits<int32_t>::max();

// Saturating increment of an int32 counter.
inline int32_t Increment(int32_t n) { return n < kInt32Max ? n + 1 : n; }

// Every valid (finite-time) event's source is a row of the weights: [0, n_in).
template <typename T>
bool SourcesInRange(const T* times, const int32_t* source, int64_t batch, int64_t n_events,
                    int64_t n_in) {
  for (int64_t s = 0; s < batch; ++s) {
    const T* t = times + s * n_events;
    const int32_t* src = source + s * n_events;
    for (int64_t m = 0; m < n_events && std::isfinite(t[m]); ++m) {
      if (src[m] < 0 || src[m] >= n_in) return false;
    }
  }
  return true;
}

template <typename T>
int64_t CountValid(const T* times, int64_t n) {
  int64_t k = 0;
  while (k < n && std::isfinite(times[k])) ++k;
  return k;
}

// The sorted input events of one sample.
template <typename T>
struct SampleEvents {
  const T* times;         // [E]
  const int32_t* source;  // [E]
  int64_t n_events;       // E
};

// Layer constants shared by all samples (c = theta / tau_mem, kappa = delta_theta / tau_mem).
// The forward's vectorised pass runs over n_lanes >= N neurons: weights rows of n_lanes
// (zero beyond N) and c, kappa of n_lanes entries, so that no scalar remainder loop runs
// (a neuron with zero weights never fires). The backward uses n_lanes = N.
template <typename T>
struct LayerParams {
  const T* weights;  // [n_in, n_lanes]
  const T* c;        // [n_lanes]
  const T* kappa;    // [n_lanes]
  T tau_syn;
  T t_max;
  int64_t n_out;    // N
  int64_t k_slots;  // K
  int64_t n_lanes;  // N rounded up to a whole number of SIMD vectors (forward), else N
};

// Neurons per SIMD vector of the forward pass (one 64-byte vector, e.g. AVX-512).
template <typename T>
constexpr int64_t kLanes = static_cast<int64_t>(64 / sizeof(T));

template <typename T>
int64_t PaddedCount(int64_t n_out) {
  return (n_out + kLanes<T> - 1) / kLanes<T> * kLanes<T>;
}

// weights [n_sets * n_in, N] with rows of n_lanes (zero-padded) in `buffer`, or the
// weights themselves when n_lanes == N.
template <typename T>
const T* PaddedWeights(const T* weights, int64_t n_rows, int64_t n_out, int64_t n_lanes,
                       std::vector<T>& buffer) {
  if (n_lanes == n_out) return weights;
  buffer.assign(n_rows * n_lanes, T(0));
  for (int64_t r = 0; r < n_rows; ++r) {
    std::copy(weights + r * n_out, weights + (r + 1) * n_out, buffer.data() + r * n_lanes);
  }
  return buffer.data();
}

// The forward results of one sample: per neuron K slots, plus the spike count.
template <typename T>
struct SpikeRecord {
  T* times;              // [N, K] spike times, +inf = empty
  T* slope;              // [N, K] x of each spike (1 = empty)
  int32_t* event_index;  // [N, K] last causal event (-1 = empty)
  int32_t* n_spikes;     // [N] all spikes fired (incl. beyond K; saturates)
  int32_t* n_unresolved; // [N] crossings the dtype could not resolve (spikes lost)
};

// Per-thread work space of the forward loop.
template <typename T>
struct ForwardScratch {
  std::vector<T> a, b;        // [N] state in the frame of the current event
  std::vector<int32_t> flag;  // [N] neuron crosses in the current interval
  explicit ForwardScratch(int64_t n_lanes) : a(n_lanes), b(n_lanes), flag(n_lanes) {}
};

template <typename T>
void ForwardSample(const SampleEvents<T>& ev, const LayerParams<T>& p, const SpikeRecord<T>& out,
                   ForwardScratch<T>& scratch) {
  const int64_t n_out = p.n_out, k_slots = p.k_slots, n_lanes = p.n_lanes;
  const T tau_syn = p.tau_syn;
  const T t_max = p.t_max;
  const T* t_ev = ev.times;
  const T* c = p.c;
  const T* kappa = p.kappa;
  T* times = out.times;
  T* slope = out.slope;
  int32_t* event_index = out.event_index;
  int32_t* n_spikes = out.n_spikes;
  int32_t* n_unresolved = out.n_unresolved;
  T* a = scratch.a.data();
  T* b = scratch.b.data();
  int32_t* flag = scratch.flag.data();
  const T tau_mem = T(2) * tau_syn;
  const T inf = std::numeric_limits<T>::infinity();
  for (int64_t i = 0; i < n_out * k_slots; ++i) {
    times[i] = inf;
    slope[i] = T(1);
    event_index[i] = -1;
  }
  for (int64_t i = 0; i < n_lanes; ++i) {
    a[i] = T(0);
    b[i] = T(0);
  }
  for (int64_t i = 0; i < n_out; ++i) {
    n_spikes[i] = 0;
    n_unresolved[i] = 0;
  }
  const int64_t n_valid = CountValid(t_ev, ev.n_events);
  for (int64_t m = 0; m < n_valid; ++m) {
    const T t_m = t_ev[m];
    const T dt = m > 0 ? t_m - t_ev[m - 1] : T(0);
    const T decay_syn = std::exp(-dt / tau_syn);
    const T decay_mem = std::exp(-dt / tau_mem);
    const T* w = p.weights + static_cast<int64_t>(ev.source[m]) * n_lanes;
    const T t_next = std::min(m + 1 < n_valid ? t_ev[m + 1] : inf, t_max);
    const bool open = t_next > t_m;
    const T z_hi = open ? std::exp((t_next - t_m) / tau_mem) : T(1);
    // Vectorised pass: integrate the event and flag the neurons that may cross in
    // (t_m, t_next] or whose crossing may lie within rounding of t_m (the loop below
    // decides each flagged neuron exactly, and does nothing for the others). The flag
    // compares 2a with den = b + sqrt(disc) instead of z = 2a / den with 1 and z_hi, with
    // a margin of 4 eps that covers the rounding of z (|fl(q) - q| <= eps/2 q): every
    // neuron that z flags is flagged, without a vector division. (Branch-free so that it
    // vectorises; inf/NaN only make comparisons false, or flag a neuron the exact
    // loop then rejects.)
    int32_t any = 0;
    const int32_t open_i = open;
    const T lo = T(1) - T(4) * std::numeric_limits<T>::epsilon();
    const T hi = T(1) + T(4) * std::numeric_limits<T>::epsilon();
    const T z_hi_up = z_hi * hi;
    const int32_t later = z_hi > T(1);
#pragma omp simd reduction(| : any)
    for (int64_t i = 0; i < n_lanes; ++i) {
      const T ai = a[i] * decay_syn + w[i];
      const T bi = b[i] * decay_mem + w[i];
      a[i] = ai;
      b[i] = bi;
      const T disc = bi * bi - T(4) * ai * c[i];
      const T two_a = T(2) * ai;
      const T den = bi + std::sqrt(std::max(disc, T(0)));
      const int32_t f = open_i & (ai > T(0)) & (bi > T(0)) & (disc >= T(0)) &
                        (((two_a > den * lo) & (two_a <= den * z_hi_up)) |
                         ((two_a <= den * hi) & (bi > T(2) * c[i]) & later));
      flag[i] = f;
      any |= f;
    }
    if (!any) continue;
    constexpr int64_t kBlock = kLanes<T>;  // n_lanes is a multiple: whole blocks of flags
    for (int64_t i = 0; i < n_out; ++i) {
      if (i % kBlock == 0) {  // skip a vector of unflagged neurons at once
        int32_t block = 0;
        for (int64_t j = i; j < i + kBlock; ++j) block |= flag[j];
        if (!block) {
          i += kBlock - 1;
          continue;
        }
      }
      if (!flag[i]) continue;
      T z_lo = T(1);
      T bi = b[i];
      const T ai = a[i];
      if (!(ai > T(0)) || !(bi > T(0))) continue;  // no positive root without both
      while (n_spikes[i] < kSpikeCountLimit) {
        const T disc = bi * bi - T(4) * ai * c[i];
        if (!(disc >= T(0))) break;
        const T x = std::sqrt(disc);
        const T denom = bi + x;
        if (!(denom > T(0))) break;
        const T z = T(2) * ai / denom;
        if (!(z > z_lo) || !(z <= z_hi)) {
          // Unresolved: a real crossing beyond z_lo (the parabola's vertex b / 2c lies
          // after it; after a reset the next root always does) that rounds to <= z_lo.
          if (!(z > z_lo) && z_lo < z_hi && bi > T(2) * c[i] * z_lo) {
            n_unresolved[i] = Increment(n_unresolved[i]);
          }
          break;
        }
        T t_spike = t_m + tau_mem * std::log(z);
        t_spike = std::min(std::max(t_spike, t_m), t_next);
        const int32_t k = n_spikes[i];
        if (k < k_slots) {
          times[i * k_slots + k] = t_spike;
          slope[i * k_slots + k] = x;
          event_index[i * k_slots + k] = static_cast<int32_t>(m);
        }
        n_spikes[i] = k + 1;  // k < kSpikeCountLimit <= INT32_MAX: no overflow
        bi -= kappa[i] * z;
        z_lo = z;
      }
      b[i] = bi;
    }
  }
}

// The stored spikes of one neuron (read-only forward results) and dL/dt of each.
template <typename T>
struct NeuronSpikes {
  const T* cot;               // [K] dL/dt of each slot
  const T* times;             // [K]
  const T* slope;             // [K]
  const int32_t* event_index; // [K]
  int32_t n_stored;           // spikes in the buffer (<= K)
};

// Total error of every stored spike, including the paths through the resets of later
// spikes (SPEC §4): E_k = e_k + z_k sum_{n>k} kappa E_n / x_n, frames converted on the way;
// writes dL/da and dL/db of each spike in the frame of its last causal event.
template <typename T>
void SpikeErrors(const T* t_ev, const NeuronSpikes<T>& sp, T tau_mem, T kappa, T* grad_a,
                 T* grad_b) {
  T s = T(0);
  T frame_next = T(0);
  for (int32_t k = sp.n_stored - 1; k >= 0; --k) {
    const T frame = t_ev[sp.event_index[k]];
    const T z = std::exp((sp.times[k] - frame) / tau_mem);
    if (k < sp.n_stored - 1) s *= std::exp((frame - frame_next) / tau_mem);
    const T err = sp.cot[k] + z * s;
    s += kappa * err / sp.slope[k];
    frame_next = frame;
    grad_a[k] = err * tau_mem / (z * sp.slope[k]);
    grad_b[k] = -err * tau_mem / sp.slope[k];
  }
}

// The forward results of one sample as the backward reads them, and dL/d(spike times).
template <typename T>
struct SampleSpikes {
  const T* cot;                // [N, K]
  const T* times;              // [N, K]
  const T* slope;              // [N, K]
  const int32_t* event_index;  // [N, K]
  const int32_t* n_stored;     // [N]
};

// Per-thread work space of the backward loop.
template <typename T>
struct BackwardScratch {
  std::vector<T> u, v;                     // [N] running sums (tau_syn, tau_mem parts)
  std::vector<int32_t> pointer;            // [N] next stored spike to absorb (-1: none)
  std::vector<int32_t> next_event;         // [N] last causal event of that spike
  std::vector<T> grad_a, grad_b;           // [N, K] dL/da, dL/db of each spike
  BackwardScratch(int64_t n_out, int64_t k_slots)
      : u(n_out), v(n_out), pointer(n_out), next_event(n_out), grad_a(n_out * k_slots),
        grad_b(n_out * k_slots) {}
};

template <typename T>
void BackwardSample(const SampleEvents<T>& ev, const LayerParams<T>& p,
                    const SampleSpikes<T>& sp, T* d_weights, T* d_times,
                    BackwardScratch<T>& scratch) {
  const int64_t n_out = p.n_out, k_slots = p.k_slots, n_events = ev.n_events;
  const int64_t n_lanes = p.n_lanes;  // weights and d_weights rows, vectorised loops
  const T tau_syn = p.tau_syn;
  const T* t_ev = ev.times;
  const int32_t* event_index = sp.event_index;
  T* u = scratch.u.data();
  T* v = scratch.v.data();
  int32_t* pointer = scratch.pointer.data();
  int32_t* next_event = scratch.next_event.data();
  T* grad_a = scratch.grad_a.data();
  T* grad_b = scratch.grad_b.data();
  const T tau_mem = T(2) * tau_syn;
  const int64_t n_valid = CountValid(t_ev, n_events);
  for (int64_t m = 0; m < n_events; ++m) d_times[m] = T(0);
  for (int64_t i = 0; i < n_out; ++i) {
    const int32_t n_stored = sp.n_stored[i];
    u[i] = T(0);
    v[i] = T(0);
    pointer[i] = n_stored - 1;
    next_event[i] = n_stored > 0 ? event_index[i * k_slots + n_stored - 1] : -1;
    const NeuronSpikes<T> neuron{sp.cot + i * k_slots, sp.times + i * k_slots,
                                 sp.slope + i * k_slots, event_index + i * k_slots, n_stored};
    SpikeErrors<T>(t_ev, neuron, tau_mem, p.kappa[i], grad_a + i * k_slots,
                   grad_b + i * k_slots);
  }
  for (int64_t i = n_out; i < n_lanes; ++i) {  // padding: no spikes, zero sums
    u[i] = T(0);
    v[i] = T(0);
    pointer[i] = -1;
    next_event[i] = -1;
  }
  const T inv_tau_syn = T(1) / tau_syn, inv_tau_mem = T(1) / tau_mem;
  for (int64_t m = n_valid - 1; m >= 0; --m) {
    // Move the running sums from the frame of t_{m+1} to the frame of t_m, and find the
    // neurons with a spike whose last causal event is m (next_event[i] caches the event of
    // each neuron's next unabsorbed spike; a neuron's spikes are contiguous in m).
    const T dt = m + 1 < n_valid ? t_ev[m + 1] - t_ev[m] : T(0);
    const T decay_syn = std::exp(-dt / tau_syn);
    const T decay_mem = std::exp(-dt / tau_mem);
    int32_t any = 0;
    const int32_t m32 = static_cast<int32_t>(m);
#pragma omp simd reduction(| : any)
    for (int64_t i = 0; i < n_lanes; ++i) {
      u[i] *= decay_syn;
      v[i] *= decay_mem;
      any |= (next_event[i] == m32);
    }
    if (any) {
      for (int64_t i = 0; i < n_out; ++i) {
        if (next_event[i] != m32) continue;
        int32_t q = pointer[i];
        while (q >= 0 && event_index[i * k_slots + q] == m32) {
          u[i] += grad_a[i * k_slots + q];
          v[i] += grad_b[i * k_slots + q];
          --q;
        }
        pointer[i] = q;
        next_event[i] = q >= 0 ? event_index[i * k_slots + q] : -1;
      }
    }
    const int64_t s = ev.source[m];
    const T* w = p.weights + s * n_lanes;
    T* dw = d_weights + s * n_lanes;
    T g_t = T(0);
#pragma omp simd reduction(+ : g_t)
    for (int64_t i = 0; i < n_lanes; ++i) {
      dw[i] += u[i] + v[i];
      g_t += w[i] * (u[i] * inv_tau_syn + v[i] * inv_tau_mem);
    }
    d_times[m] = g_t;
  }
}

// c = theta / tau_mem and kappa = delta_theta / tau_mem of every neuron.
// (n_lanes >= n_out entries, zero beyond n_out.)
template <typename T>
void NeuronConstants(const T* theta, const T* delta_theta, T tau_syn, int64_t n_out,
                     std::vector<T>& c, std::vector<T>& kappa, int64_t n_lanes = -1) {
  const T tau_mem = T(2) * tau_syn;
  c.assign(std::max(n_out, n_lanes), T(0));
  kappa.assign(std::max(n_out, n_lanes), T(0));
  for (int64_t i = 0; i < n_out; ++i) {
    if (theta != nullptr) c[i] = theta[i] / tau_mem;
    kappa[i] = delta_theta[i] / tau_mem;
  }
}

template <ffi::DataType DT>
ffi::Error Forward(ffi::BufferR2<DT> event_times, ffi::BufferR2<ffi::S32> event_source,
                   ffi::BufferR2<DT> weights, ffi::BufferR1<DT> theta,
                   ffi::BufferR1<DT> delta_theta, ffi::BufferR0<DT> tau_syn,
                   ffi::BufferR0<DT> t_max, ffi::ResultBufferR3<DT> times,
                   ffi::ResultBufferR3<DT> slope, ffi::ResultBufferR3<ffi::S32> event_index,
                   ffi::ResultBufferR2<ffi::S32> n_spikes,
                   ffi::ResultBufferR2<ffi::S32> n_unresolved) {
  using T = ffi::NativeType<DT>;
  const int64_t batch = event_times.dimensions()[0], n_events = event_times.dimensions()[1];
  const int64_t n_out = weights.dimensions()[1], k_slots = times->dimensions()[2];
  if (n_events > kInt32Max || k_slots > kInt32Max) {
    return ffi::Error::InvalidArgument("SnnjaxLifForward: more than 2**31 - 1 events or slots");
  }
  if (!SourcesInRange(event_times.typed_data(), event_source.typed_data(), batch, n_events,
                      weights.dimensions()[0])) {
    return ffi::Error::InvalidArgument("SnnjaxLifForward: an event source is not a weight row");
  }
  const int64_t n_lanes = PaddedCount<T>(n_out);
  std::vector<T> c, kappa, padded;
  NeuronConstants<T>(theta.typed_data(), delta_theta.typed_data(), tau_syn.typed_data()[0],
                     n_out, c, kappa, n_lanes);
  const T* w = PaddedWeights(weights.typed_data(), weights.dimensions()[0], n_out, n_lanes, padded);
  const LayerParams<T> params{w,       c.data(), kappa.data(), tau_syn.typed_data()[0],
                              t_max.typed_data()[0], n_out, k_slots, n_lanes};
#pragma omp parallel
  {
    ForwardScratch<T> scratch(n_lanes);
#pragma omp for schedule(dynamic, 1)
    for (int64_t s = 0; s < batch; ++s) {
      const int64_t off = s * n_out * k_slots;
      const SampleEvents<T> ev{event_times.typed_data() + s * n_events,
                               event_source.typed_data() + s * n_events, n_events};
      const SpikeRecord<T> out{times->typed_data() + off, slope->typed_data() + off,
                               event_index->typed_data() + off,
                               n_spikes->typed_data() + s * n_out,
                               n_unresolved->typed_data() + s * n_out};
      ForwardSample<T>(ev, params, out, scratch);
    }
  }
  return ffi::Error::Success();
}

template <ffi::DataType DT>
ffi::Error Backward(ffi::BufferR2<DT> event_times, ffi::BufferR2<ffi::S32> event_source,
                    ffi::BufferR2<DT> weights, ffi::BufferR1<DT> delta_theta,
                    ffi::BufferR0<DT> tau_syn, ffi::BufferR3<DT> cot_times,
                    ffi::BufferR3<DT> times, ffi::BufferR3<DT> slope,
                    ffi::BufferR3<ffi::S32> event_index, ffi::BufferR2<ffi::S32> n_spikes,
                    ffi::ResultBufferR2<DT> d_weights, ffi::ResultBufferR2<DT> d_times) {
  using T = ffi::NativeType<DT>;
  const int64_t batch = event_times.dimensions()[0], n_events = event_times.dimensions()[1];
  const int64_t n_in = weights.dimensions()[0], n_out = weights.dimensions()[1];
  const int64_t k_slots = times.dimensions()[2];
  if (n_events > kInt32Max || k_slots > kInt32Max) {
    return ffi::Error::InvalidArgument("SnnjaxLifBackward: more than 2**31 - 1 events or slots");
  }
  if (!SourcesInRange(event_times.typed_data(), event_source.typed_data(), batch, n_events,
                      n_in)) {
    return ffi::Error::InvalidArgument("SnnjaxLifBackward: an event source is not a weight row");
  }
  const int64_t n_lanes = PaddedCount<T>(n_out);
  std::vector<T> c, kappa, padded;
  NeuronConstants<T>(nullptr, delta_theta.typed_data(), tau_syn.typed_data()[0], n_out, c,
                     kappa, n_lanes);
  const T* w = PaddedWeights(weights.typed_data(), n_in, n_out, n_lanes, padded);
  const LayerParams<T> params{w,     c.data(), kappa.data(), tau_syn.typed_data()[0],
                              T(0), n_out,    k_slots,      n_lanes};
  // Stored spikes per neuron, in [0, K]; each one's last causal event must be an event.
  std::vector<int32_t> n_stored(batch * n_out);
  for (int64_t i = 0; i < batch * n_out; ++i) {
    const int64_t n = std::clamp<int64_t>(n_spikes.typed_data()[i], 0, k_slots);
    n_stored[i] = static_cast<int32_t>(n);
    const int32_t* index = event_index.typed_data() + i * k_slots;
    for (int64_t k = 0; k < n; ++k) {
      if (index[k] < 0 || index[k] >= n_events) {
        return ffi::Error::InvalidArgument("SnnjaxLifBackward: a spike's event index is not an event");
      }
    }
  }
  // Each thread accumulates the weight gradient of a fixed, contiguous block of samples
  // (static schedule) in its own buffer; the buffers are then added in thread order, so the
  // result is bitwise reproducible for a given number of threads.
  const int n_threads = omp_get_max_threads();
  std::vector<std::vector<T>> dw_thread(n_threads);
#pragma omp parallel num_threads(n_threads)
  {
    std::vector<T>& dw = dw_thread[omp_get_thread_num()];
    dw.assign(n_in * n_lanes, T(0));  // rows of n_lanes (see LayerParams)
    BackwardScratch<T> scratch(n_lanes, k_slots);
#pragma omp for schedule(static)
    for (int64_t s = 0; s < batch; ++s) {
      const int64_t off = s * n_out * k_slots;
      const SampleEvents<T> ev{event_times.typed_data() + s * n_events,
                               event_source.typed_data() + s * n_events, n_events};
      const SampleSpikes<T> sp{cot_times.typed_data() + off, times.typed_data() + off,
                               slope.typed_data() + off, event_index.typed_data() + off,
                               n_stored.data() + s * n_out};
      BackwardSample<T>(ev, params, sp, dw.data(), d_times->typed_data() + s * n_events,
                        scratch);
    }
  }
  T* dw_out = d_weights->typed_data();
  std::fill(dw_out, dw_out + n_in * n_out, T(0));
  for (const auto& dw : dw_thread) {
    if (dw.empty()) continue;
    for (int64_t r = 0; r < n_in; ++r) {
      for (int64_t i = 0; i < n_out; ++i) dw_out[r * n_out + i] += dw[r * n_lanes + i];
    }
  }
  return ffi::Error::Success();
}

// Merge the spike trains of each sample into one time-sorted event list: the slots that
// hold a spike before t_max (finite, < t_max), sorted by (time, slot). input_times is
// [B, n_in, K]; writes the first E events' times (+inf padded), presynaptic neurons (slot / K)
// and slots (for the backward), and the number of valid events (which may exceed E: the
// caller reports the overflow). Only the valid slots are sorted, and the gather of their
// times happens here, so XLA never gathers or scatters the (mostly empty) [B, n_in * K] slots.
template <ffi::DataType DT>
ffi::Error SortEvents(ffi::BufferR3<DT> input_times, ffi::BufferR0<DT> t_max_buf,
                      ffi::ResultBufferR2<DT> event_times, ffi::ResultBufferR2<ffi::S32> source,
                      ffi::ResultBufferR2<ffi::S32> slot, ffi::ResultBufferR1<ffi::S32> n_valid) {
  using T = ffi::NativeType<DT>;
  const auto dims = input_times.dimensions();
  const int64_t batch = dims[0], k_in = dims[2], n_slots = dims[1] * dims[2];
  const int64_t n_events = event_times->dimensions()[1];
  if (n_slots > kInt32Max) {
    return ffi::Error::InvalidArgument("SnnjaxSortEvents: more than 2**31 - 1 input slots");
  }
  const T t_max = t_max_buf.typed_data()[0];
  const T inf = std::numeric_limits<T>::infinity();
#pragma omp parallel
  {
    std::vector<std::pair<T, int32_t>> events;
#pragma omp for schedule(static)
    for (int64_t s = 0; s < batch; ++s) {
      const T* t = input_times.typed_data() + s * n_slots;
      events.clear();
      for (int64_t j = 0; j < n_slots; ++j) {
        if (t[j] < t_max) {  // false for +inf and NaN
          events.emplace_back(t[j], static_cast<int32_t>(j));
        }
      }
      std::sort(events.begin(), events.end());
      T* out_t = event_times->typed_data() + s * n_events;
      int32_t* out_src = source->typed_data() + s * n_events;
      int32_t* out_slot = slot->typed_data() + s * n_events;
      const int64_t n = std::min<int64_t>(n_events, static_cast<int64_t>(events.size()));
      for (int64_t k = 0; k < n; ++k) {
        out_t[k] = events[k].first;
        out_slot[k] = events[k].second;
        out_src[k] = static_cast<int32_t>(events[k].second / k_in);
      }
      for (int64_t k = n; k < n_events; ++k) {
        out_t[k] = inf;
        out_slot[k] = -1;
        out_src[k] = 0;
      }
      n_valid->typed_data()[s] = static_cast<int32_t>(events.size());
    }
  }
  return ffi::Error::Success();
}

// Transpose of the gather in SortEvents: d_input_times [B, n_in, K] is zero except at the
// slots of the kept events, which receive the cotangent of their event time.
template <ffi::DataType DT>
ffi::Error ScatterEvents(ffi::BufferR2<DT> d_event_times, ffi::BufferR2<ffi::S32> slot,
                         ffi::ResultBufferR3<DT> d_input_times) {
  using T = ffi::NativeType<DT>;
  const auto dims = d_event_times.dimensions();
  const auto out_dims = d_input_times->dimensions();
  const int64_t batch = dims[0], n_events = dims[1];
  const int64_t n_slots = out_dims[1] * out_dims[2];
  int32_t bad = 0;
#pragma omp parallel for schedule(static) reduction(| : bad)
  for (int64_t s = 0; s < batch; ++s) {
    T* out = d_input_times->typed_data() + s * n_slots;
    std::fill(out, out + n_slots, T(0));
    const T* d = d_event_times.typed_data() + s * n_events;
    const int32_t* sl = slot.typed_data() + s * n_events;
    for (int64_t k = 0; k < n_events && sl[k] >= 0; ++k) {
      if (sl[k] < n_slots) {
        out[sl[k]] = d[k];
      } else {
        bad = 1;
      }
    }
  }
  if (bad) return ffi::Error::InvalidArgument("SnnjaxScatterEvents: a slot is out of range");
  return ffi::Error::Success();
}


// ---------------------------------------------------------------------------------------
// Events of a "valid", stride-1 convolution (snnjax.nn.LIFConv): the event list of every
// receptive field, built from one sort per image instead of one per patch. Each sample's
// valid slots (t < t_max) are sorted once by (time, slot); the events of the patch at
// output position (p, q) are the sorted image events with p <= h < p + kh and
// q <= w < q + kw, in that order. For a fixed patch the image slot order (h, w, c, k) is
// the patch slot order (di, dj, c, k), so each list equals the per-patch sort of the
// gathered patch (SortEvents of conv_patches), source = patch row (di * kw + dj) * C + c.
// ---------------------------------------------------------------------------------------

// Spike trains of a batch of images [B, H, W, C, K] (an alias: the handler macros below
// cannot take a template argument list with a comma).
template <ffi::DataType DT>
using ImageBuffer = ffi::Buffer<DT, 5>;

// Geometry of one convolution: image [H, W, C, K], kernel [kh, kw], output [H', W'].
struct ConvGeometry {
  int64_t height, width, channels, k_in, kh, kw, out_h, out_w;
  int64_t Positions() const { return out_h * out_w; }
  int64_t Slots() const { return height * width * channels * k_in; }
};

// The events of every patch of one sample: times, sources and image slots [P, E] and the
// number of valid events of each patch [P] (which may exceed E: overflow).
template <typename T>
struct PatchEvents {
  T* times;
  int32_t* source;
  int32_t* slot;
  int32_t* n_valid;
  int64_t n_events;  // E
};

template <typename T>
void ConvSample(const T* image, T t_max, const ConvGeometry& g, const PatchEvents<T>& out,
                std::vector<std::pair<T, int32_t>>& events) {
  const int64_t n_slots = g.Slots(), ck = g.channels * g.k_in, wck = g.width * ck;
  events.clear();
  for (int64_t j = 0; j < n_slots; ++j) {
    if (image[j] < t_max) events.emplace_back(image[j], static_cast<int32_t>(j));
  }
  std::sort(events.begin(), events.end());
  const int64_t n_pos = g.Positions(), n_events = out.n_events;
  std::fill(out.n_valid, out.n_valid + n_pos, 0);
  for (const auto& ev : events) {
    const int64_t j = ev.second, h = j / wck, w = (j / ck) % g.width, c = (j % ck) / g.k_in;
    const int64_t p_lo = std::max<int64_t>(0, h - g.kh + 1), p_hi = std::min(h, g.out_h - 1);
    const int64_t q_lo = std::max<int64_t>(0, w - g.kw + 1), q_hi = std::min(w, g.out_w - 1);
    for (int64_t p = p_lo; p <= p_hi; ++p) {
      for (int64_t q = q_lo; q <= q_hi; ++q) {
        const int64_t pos = p * g.out_w + q;
        const int64_t n = out.n_valid[pos];
        if (n < n_events) {
          const int64_t at = pos * n_events + n;
          out.times[at] = ev.first;
          out.source[at] = static_cast<int32_t>(((h - p) * g.kw + (w - q)) * g.channels + c);
          out.slot[at] = static_cast<int32_t>(j);
        }
        out.n_valid[pos] = static_cast<int32_t>(n + 1);  // n < n_slots <= INT32_MAX
      }
    }
  }
  const T inf = std::numeric_limits<T>::infinity();
  for (int64_t pos = 0; pos < n_pos; ++pos) {
    for (int64_t k = std::min<int64_t>(out.n_valid[pos], n_events); k < n_events; ++k) {
      out.times[pos * n_events + k] = inf;
      out.source[pos * n_events + k] = 0;
      out.slot[pos * n_events + k] = -1;
    }
  }
}

// input_times [B, H, W, C, K] -> event_times, source, slot [B * H' * W', E], n_valid [B * H' * W'].
template <ffi::DataType DT>
ffi::Error ConvSortEvents(ImageBuffer<DT> input_times, ffi::BufferR0<DT> t_max_buf,
                          int64_t kh, int64_t kw, ffi::ResultBufferR2<DT> event_times,
                          ffi::ResultBufferR2<ffi::S32> source,
                          ffi::ResultBufferR2<ffi::S32> slot,
                          ffi::ResultBufferR1<ffi::S32> n_valid) {
  using T = ffi::NativeType<DT>;
  const auto dims = input_times.dimensions();
  const ConvGeometry g{dims[1], dims[2], dims[3], dims[4], kh, kw, dims[1] - kh + 1,
                       dims[2] - kw + 1};
  const int64_t batch = dims[0], n_events = event_times->dimensions()[1];
  if (kh < 1 || kw < 1 || g.out_h < 1 || g.out_w < 1 ||
      event_times->dimensions()[0] != batch * g.Positions()) {
    return ffi::Error::InvalidArgument("SnnjaxConvSortEvents: kernel and image do not fit");
  }
  if (g.Slots() > kInt32Max) {
    return ffi::Error::InvalidArgument("SnnjaxConvSortEvents: more than 2**31 - 1 image slots");
  }
  const T t_max = t_max_buf.typed_data()[0];
  const int64_t per_sample = g.Positions() * n_events;
#pragma omp parallel
  {
    std::vector<std::pair<T, int32_t>> events;
#pragma omp for schedule(dynamic, 1)
    for (int64_t s = 0; s < batch; ++s) {
      const PatchEvents<T> out{event_times->typed_data() + s * per_sample,
                               source->typed_data() + s * per_sample,
                               slot->typed_data() + s * per_sample,
                               n_valid->typed_data() + s * g.Positions(), n_events};
      ConvSample<T>(input_times.typed_data() + s * g.Slots(), t_max, g, out, events);
    }
  }
  return ffi::Error::Success();
}

// Transpose of ConvSortEvents: d_input_times [B, H, W, C, K] gets, at each image slot, the
// sum of the cotangents of its events in every patch (patches added in position order).
template <ffi::DataType DT>
ffi::Error ConvScatterEvents(ffi::BufferR2<DT> d_event_times, ffi::BufferR2<ffi::S32> slot,
                             ffi::Result<ImageBuffer<DT>> d_input_times) {
  using T = ffi::NativeType<DT>;
  const auto out_dims = d_input_times->dimensions();
  const int64_t batch = out_dims[0];
  const int64_t n_slots = out_dims[1] * out_dims[2] * out_dims[3] * out_dims[4];
  const int64_t n_patches = d_event_times.dimensions()[0], n_events = d_event_times.dimensions()[1];
  if (batch == 0 || n_patches % batch != 0) {
    if (batch == 0 && n_patches == 0) return ffi::Error::Success();
    return ffi::Error::InvalidArgument("SnnjaxConvScatterEvents: patches do not fit the batch");
  }
  const int64_t per_sample = (n_patches / batch) * n_events;
  int32_t bad = 0;
#pragma omp parallel for schedule(static) reduction(| : bad)
  for (int64_t s = 0; s < batch; ++s) {
    T* out = d_input_times->typed_data() + s * n_slots;
    std::fill(out, out + n_slots, T(0));
    const T* d = d_event_times.typed_data() + s * per_sample;
    const int32_t* sl = slot.typed_data() + s * per_sample;
    for (int64_t k = 0; k < per_sample; ++k) {
      if (sl[k] < 0) continue;  // padding (each patch's list ends with it)
      if (sl[k] < n_slots) {
        out[sl[k]] += d[k];
      } else {
        bad = 1;
      }
    }
  }
  if (bad) return ffi::Error::InvalidArgument("SnnjaxConvScatterEvents: a slot is out of range");
  return ffi::Error::Success();
}

}  // namespace

// Handler symbols. The FFI binds arguments by position; the comments name them in the
// order of the handler's parameters (and of the calls in snnjax/lif/backends/ffi.py).
// Ranks are checked by the FFI (BufferR<n>).

#define SNNJAX_FORWARD(NAME, DT)                                                 \
  XLA_FFI_DEFINE_HANDLER_SYMBOL(NAME, Forward<DT>,                               \
                                ffi::Ffi::Bind()                                 \
                                    .Arg<ffi::BufferR2<DT>>()       /* event_times */  \
                                    .Arg<ffi::BufferR2<ffi::S32>>() /* event_source */ \
                                    .Arg<ffi::BufferR2<DT>>()       /* weights */      \
                                    .Arg<ffi::BufferR1<DT>>()       /* theta */        \
                                    .Arg<ffi::BufferR1<DT>>()       /* delta_theta */  \
                                    .Arg<ffi::BufferR0<DT>>()       /* tau_syn */      \
                                    .Arg<ffi::BufferR0<DT>>()       /* t_max */        \
                                    .Ret<ffi::BufferR3<DT>>()       /* times */        \
                                    .Ret<ffi::BufferR3<DT>>()       /* slope */        \
                                    .Ret<ffi::BufferR3<ffi::S32>>() /* event_index */  \
                                    .Ret<ffi::BufferR2<ffi::S32>>() /* n_spikes */     \
                                    .Ret<ffi::BufferR2<ffi::S32>>() /* n_unresolved */);

#define SNNJAX_BACKWARD(NAME, DT)                                                \
  XLA_FFI_DEFINE_HANDLER_SYMBOL(NAME, Backward<DT>,                              \
                                ffi::Ffi::Bind()                                 \
                                    .Arg<ffi::BufferR2<DT>>()       /* event_times */  \
                                    .Arg<ffi::BufferR2<ffi::S32>>() /* event_source */ \
                                    .Arg<ffi::BufferR2<DT>>()       /* weights */      \
                                    .Arg<ffi::BufferR1<DT>>()       /* delta_theta */  \
                                    .Arg<ffi::BufferR0<DT>>()       /* tau_syn */      \
                                    .Arg<ffi::BufferR3<DT>>()       /* cot_times */    \
                                    .Arg<ffi::BufferR3<DT>>()       /* times */        \
                                    .Arg<ffi::BufferR3<DT>>()       /* slope */        \
                                    .Arg<ffi::BufferR3<ffi::S32>>() /* event_index */  \
                                    .Arg<ffi::BufferR2<ffi::S32>>() /* n_spikes */     \
                                    .Ret<ffi::BufferR2<DT>>()       /* d_weights */    \
                                    .Ret<ffi::BufferR2<DT>>()       /* d_event_times */);

SNNJAX_FORWARD(SnnjaxLifForwardF32, ffi::F32)
SNNJAX_FORWARD(SnnjaxLifForwardF64, ffi::F64)
SNNJAX_BACKWARD(SnnjaxLifBackwardF32, ffi::F32)
SNNJAX_BACKWARD(SnnjaxLifBackwardF64, ffi::F64)

#define SNNJAX_SORT(NAME, DT)                                                    \
  XLA_FFI_DEFINE_HANDLER_SYMBOL(NAME, SortEvents<DT>,                            \
                                ffi::Ffi::Bind()                                 \
                                    .Arg<ffi::BufferR3<DT>>()       /* input_times */  \
                                    .Arg<ffi::BufferR0<DT>>()       /* t_max */        \
                                    .Ret<ffi::BufferR2<DT>>()       /* event_times */  \
                                    .Ret<ffi::BufferR2<ffi::S32>>() /* source */       \
                                    .Ret<ffi::BufferR2<ffi::S32>>() /* slot */         \
                                    .Ret<ffi::BufferR1<ffi::S32>>() /* n_valid */);

SNNJAX_SORT(SnnjaxSortEventsF32, ffi::F32)
SNNJAX_SORT(SnnjaxSortEventsF64, ffi::F64)

#define SNNJAX_SCATTER(NAME, DT)                                                 \
  XLA_FFI_DEFINE_HANDLER_SYMBOL(NAME, ScatterEvents<DT>,                         \
                                ffi::Ffi::Bind()                                 \
                                    .Arg<ffi::BufferR2<DT>>()       /* d_event_times */ \
                                    .Arg<ffi::BufferR2<ffi::S32>>() /* slot */          \
                                    .Ret<ffi::BufferR3<DT>>()       /* d_input_times */);

SNNJAX_SCATTER(SnnjaxScatterEventsF32, ffi::F32)
SNNJAX_SCATTER(SnnjaxScatterEventsF64, ffi::F64)

#define SNNJAX_CONV_SORT(NAME, DT)                                               \
  XLA_FFI_DEFINE_HANDLER_SYMBOL(NAME, ConvSortEvents<DT>,                        \
                                ffi::Ffi::Bind()                                 \
                                    .Arg<ImageBuffer<DT>>()         /* input_times */  \
                                    .Arg<ffi::BufferR0<DT>>()       /* t_max */        \
                                    .Attr<int64_t>("kh")                               \
                                    .Attr<int64_t>("kw")                               \
                                    .Ret<ffi::BufferR2<DT>>()       /* event_times */  \
                                    .Ret<ffi::BufferR2<ffi::S32>>() /* source */       \
                                    .Ret<ffi::BufferR2<ffi::S32>>() /* slot */         \
                                    .Ret<ffi::BufferR1<ffi::S32>>() /* n_valid */);

SNNJAX_CONV_SORT(SnnjaxConvSortEventsF32, ffi::F32)
SNNJAX_CONV_SORT(SnnjaxConvSortEventsF64, ffi::F64)

#define SNNJAX_CONV_SCATTER(NAME, DT)                                            \
  XLA_FFI_DEFINE_HANDLER_SYMBOL(NAME, ConvScatterEvents<DT>,                     \
                                ffi::Ffi::Bind()                                 \
                                    .Arg<ffi::BufferR2<DT>>()       /* d_event_times */ \
                                    .Arg<ffi::BufferR2<ffi::S32>>() /* slot */          \
                                    .Ret<ImageBuffer<DT>>()         /* d_input_times */);

SNNJAX_CONV_SCATTER(SnnjaxConvScatterEventsF32, ffi::F32)
SNNJAX_CONV_SCATTER(SnnjaxConvScatterEventsF64, ffi::F64)

// ---------------------------------------------------------------------------------------
// Per-sample weight sets and constants: the batching rules of ffi.py (vmap over samples,
// weights, e.g. noise seeds or ensembles, and parameters, folded into the kernel's batch).
// weights is [S, n_in, N] and sample s uses the set w_index[s]; theta, delta_theta are
// [B, N] and tau_syn, t_max [B] (one value per sample). The backward adds the weight
// gradient of sample s into the set dw_index[s] of d_weights [S_out, n_in, N]. Same
// per-sample algorithm (ForwardSample, BackwardSample) as the kernels above.
// ---------------------------------------------------------------------------------------

namespace {

ffi::Error CheckIndex(const int32_t* index, int64_t batch, int64_t n_sets, const char* what) {
  for (int64_t s = 0; s < batch; ++s) {
    if (index[s] < 0 || index[s] >= n_sets) {
      return ffi::Error(ffi::ErrorCode::kInvalidArgument,
                        std::string("snnjax: ") + what + " out of range");
    }
  }
  return ffi::Error::Success();
}

// Event counts and slots fit int32, and every valid event's source is a weight row.
template <ffi::DataType DT>
ffi::Error CheckEvents(ffi::BufferR2<DT>& event_times, ffi::BufferR2<ffi::S32>& event_source,
                       int64_t n_in, int64_t k_slots) {
  const int64_t batch = event_times.dimensions()[0], n_events = event_times.dimensions()[1];
  if (n_events > kInt32Max || k_slots > kInt32Max) {
    return ffi::Error::InvalidArgument("snnjax: more than 2**31 - 1 events or slots");
  }
  if (!SourcesInRange(event_times.typed_data(), event_source.typed_data(), batch, n_events,
                      n_in)) {
    return ffi::Error::InvalidArgument("snnjax: an event source is not a weight row");
  }
  return ffi::Error::Success();
}

// The per-sample inputs of the indexed kernels.
template <typename T>
struct SampleLayers {
  const T* event_times;      // [B, E]
  const int32_t* source;     // [B, E]
  const T* weights;          // [S, n_in, N]
  const int32_t* w_index;    // [B]
  const T* theta;            // [B, N] (nullptr in the backward)
  const T* delta_theta;      // [B, N]
  const T* tau_syn;          // [B]
  const T* t_max;            // [B] (nullptr in the backward)
  int64_t n_events, set_size, n_out, k_slots;
  int64_t n_lanes;  // weights rows and neuron constants of n_lanes >= N (see LayerParams)
};

// LayerParams of sample s (c, kappa: per-thread storage for its neuron constants).
template <typename T>
LayerParams<T> SampleParams(const SampleLayers<T>& l, int64_t s, std::vector<T>& c,
                            std::vector<T>& kappa) {
  const int64_t n = l.n_out;
  NeuronConstants<T>(l.theta != nullptr ? l.theta + s * n : nullptr, l.delta_theta + s * n,
                     l.tau_syn[s], n, c, kappa, l.n_lanes);
  return LayerParams<T>{l.weights + l.w_index[s] * l.set_size,
                        c.data(),
                        kappa.data(),
                        l.tau_syn[s],
                        l.t_max != nullptr ? l.t_max[s] : T(0),
                        n,
                        l.k_slots,
                        l.n_lanes};
}

template <typename T>
SampleEvents<T> SampleEventsOf(const SampleLayers<T>& l, int64_t s) {
  return SampleEvents<T>{l.event_times + s * l.n_events, l.source + s * l.n_events,
                         l.n_events};
}

// Forward of every sample; slope and event_index may be nullptr (not returned: per-thread
// scratch instead, so that a forward without gradient writes a third of the memory).
template <typename T>
void ForwardSamples(const SampleLayers<T>& l, int64_t batch, T* times, T* slope,
                    int32_t* event_index, int32_t* n_spikes, int32_t* n_unresolved) {
  const int64_t per_sample = l.n_out * l.k_slots;
#pragma omp parallel
  {
    ForwardScratch<T> scratch(l.n_lanes);
    std::vector<T> c, kappa;
    std::vector<T> own_slope(slope == nullptr ? per_sample : 0);
    std::vector<int32_t> own_index(event_index == nullptr ? per_sample : 0);
#pragma omp for schedule(dynamic, 1)
    for (int64_t s = 0; s < batch; ++s) {
      const LayerParams<T> params = SampleParams(l, s, c, kappa);
      const int64_t off = s * per_sample;
      const SpikeRecord<T> out{times + off,
                               slope != nullptr ? slope + off : own_slope.data(),
                               event_index != nullptr ? event_index + off : own_index.data(),
                               n_spikes + s * l.n_out, n_unresolved + s * l.n_out};
      ForwardSample<T>(SampleEventsOf(l, s), params, out, scratch);
    }
  }
}

template <ffi::DataType DT>
ffi::Error ForwardIndexedCommon(ffi::BufferR2<DT>& event_times,
                                ffi::BufferR2<ffi::S32>& event_source,
                                ffi::BufferR3<DT>& weights, ffi::BufferR1<ffi::S32>& w_index,
                                ffi::BufferR2<DT>& theta, ffi::BufferR2<DT>& delta_theta,
                                ffi::BufferR1<DT>& tau_syn, ffi::BufferR1<DT>& t_max,
                                ffi::ResultBufferR3<DT>& times,
                                ffi::NativeType<DT>* slope, int32_t* event_index,
                                ffi::ResultBufferR2<ffi::S32>& n_spikes,
                                ffi::ResultBufferR2<ffi::S32>& n_unresolved) {
  using T = ffi::NativeType<DT>;
  const int64_t batch = event_times.dimensions()[0];
  const int64_t n_out = weights.dimensions()[2];
  ffi::Error ok = CheckIndex(w_index.typed_data(), batch, weights.dimensions()[0], "w_index");
  if (ok.failure()) return ok;
  ok = CheckEvents(event_times, event_source, weights.dimensions()[1], times->dimensions()[2]);
  if (ok.failure()) return ok;
  const int64_t n_in = weights.dimensions()[1], n_lanes = PaddedCount<T>(n_out);
  std::vector<T> padded;
  const T* w = PaddedWeights(weights.typed_data(), weights.dimensions()[0] * n_in, n_out,
                             n_lanes, padded);
  const SampleLayers<T> layers{event_times.typed_data(), event_source.typed_data(),
                               w, w_index.typed_data(),
                               theta.typed_data(), delta_theta.typed_data(),
                               tau_syn.typed_data(), t_max.typed_data(),
                               event_times.dimensions()[1], n_in * n_lanes,
                               n_out, times->dimensions()[2], n_lanes};
  ForwardSamples<T>(layers, batch, times->typed_data(), slope, event_index,
                    n_spikes->typed_data(), n_unresolved->typed_data());
  return ffi::Error::Success();
}

template <ffi::DataType DT>
ffi::Error ForwardIndexed(ffi::BufferR2<DT> event_times, ffi::BufferR2<ffi::S32> event_source,
                          ffi::BufferR3<DT> weights, ffi::BufferR1<ffi::S32> w_index,
                          ffi::BufferR2<DT> theta, ffi::BufferR2<DT> delta_theta,
                          ffi::BufferR1<DT> tau_syn, ffi::BufferR1<DT> t_max,
                          ffi::ResultBufferR3<DT> times, ffi::ResultBufferR3<DT> slope,
                          ffi::ResultBufferR3<ffi::S32> event_index,
                          ffi::ResultBufferR2<ffi::S32> n_spikes,
                          ffi::ResultBufferR2<ffi::S32> n_unresolved) {
  return ForwardIndexedCommon<DT>(event_times, event_source, weights, w_index, theta,
                                  delta_theta, tau_syn, t_max, times, slope->typed_data(),
                                  event_index->typed_data(), n_spikes, n_unresolved);
}

// Spike times and counts only (what a forward without gradient returns).
template <ffi::DataType DT>
ffi::Error ForwardTimes(ffi::BufferR2<DT> event_times, ffi::BufferR2<ffi::S32> event_source,
                        ffi::BufferR3<DT> weights, ffi::BufferR1<ffi::S32> w_index,
                        ffi::BufferR2<DT> theta, ffi::BufferR2<DT> delta_theta,
                        ffi::BufferR1<DT> tau_syn, ffi::BufferR1<DT> t_max,
                        ffi::ResultBufferR3<DT> times, ffi::ResultBufferR2<ffi::S32> n_spikes,
                        ffi::ResultBufferR2<ffi::S32> n_unresolved) {
  return ForwardIndexedCommon<DT>(event_times, event_source, weights, w_index, theta,
                                  delta_theta, tau_syn, t_max, times, nullptr, nullptr,
                                  n_spikes, n_unresolved);
}

// The forward results of every sample as the backward reads them.
template <typename T>
struct SamplesSpikes {
  const T* cot;                // [B, N, K]
  const T* times;              // [B, N, K]
  const T* slope;              // [B, N, K]
  const int32_t* event_index;  // [B, N, K]
  const int32_t* n_stored;     // [B, N], clipped to K
};

// Per-thread work space of the indexed backward.
template <typename T>
struct IndexedBackwardScratch {
  BackwardScratch<T> loop;
  std::vector<T> c, kappa;
  IndexedBackwardScratch(int64_t n_out, int64_t k_slots) : loop(n_out, k_slots) {}
};

// Backward of sample s, its weight gradient added into dw ([n_in, N]).
template <typename T>
void IndexedBackwardSample(const SampleLayers<T>& l, const SamplesSpikes<T>& sp, int64_t s,
                           T* dw, T* d_times, IndexedBackwardScratch<T>& scratch) {
  const int64_t off = s * l.n_out * l.k_slots;
  const LayerParams<T> params = SampleParams(l, s, scratch.c, scratch.kappa);
  const SampleSpikes<T> spikes{sp.cot + off, sp.times + off, sp.slope + off,
                               sp.event_index + off, sp.n_stored + s * l.n_out};
  BackwardSample<T>(SampleEventsOf(l, s), params, spikes, dw, d_times + s * l.n_events,
                    scratch.loop);
}

// The weight gradients: one thread per gradient set when there are enough sets (samples
// added in sample order: bitwise reproducible whatever the number of threads), else each
// thread accumulates a fixed block of samples into its own buffers, added in thread order
// (reproducible for a given number of threads).
template <typename T>
void IndexedBackwardSamples(const SampleLayers<T>& l, const SamplesSpikes<T>& sp,
                            const int32_t* dw_index, int64_t batch, int64_t n_dw, T* dw_out,
                            T* dt_out) {
  const int64_t set_size = l.set_size;
  std::vector<std::vector<int64_t>> members(n_dw);
  for (int64_t s = 0; s < batch; ++s) members[dw_index[s]].push_back(s);
  const int n_threads = omp_get_max_threads();
  if (n_dw >= n_threads) {
#pragma omp parallel
    {
      IndexedBackwardScratch<T> scratch(l.n_out, l.k_slots);
#pragma omp for schedule(dynamic, 1)
      for (int64_t g = 0; g < n_dw; ++g) {
        T* dw = dw_out + g * set_size;
        std::fill(dw, dw + set_size, T(0));
        for (int64_t s : members[g]) IndexedBackwardSample<T>(l, sp, s, dw, dt_out, scratch);
      }
    }
    return;
  }
  std::vector<std::vector<T>> dw_thread(n_threads);
#pragma omp parallel num_threads(n_threads)
  {
    std::vector<T>& dw = dw_thread[omp_get_thread_num()];
    dw.assign(n_dw * set_size, T(0));
    IndexedBackwardScratch<T> scratch(l.n_out, l.k_slots);
#pragma omp for schedule(static)
    for (int64_t s = 0; s < batch; ++s) {
      IndexedBackwardSample<T>(l, sp, s, dw.data() + dw_index[s] * set_size, dt_out, scratch);
    }
  }
  std::fill(dw_out, dw_out + n_dw * set_size, T(0));
  for (const auto& dw : dw_thread) {
    if (dw.empty()) continue;
    for (int64_t i = 0; i < n_dw * set_size; ++i) dw_out[i] += dw[i];
  }
}

template <ffi::DataType DT>
ffi::Error BackwardIndexed(ffi::BufferR2<DT> event_times, ffi::BufferR2<ffi::S32> event_source,
                           ffi::BufferR3<DT> weights, ffi::BufferR1<ffi::S32> w_index,
                           ffi::BufferR1<ffi::S32> dw_index, ffi::BufferR2<DT> delta_theta,
                           ffi::BufferR1<DT> tau_syn, ffi::BufferR3<DT> cot_times,
                           ffi::BufferR3<DT> times, ffi::BufferR3<DT> slope,
                           ffi::BufferR3<ffi::S32> event_index,
                           ffi::BufferR2<ffi::S32> n_spikes, ffi::ResultBufferR3<DT> d_weights,
                           ffi::ResultBufferR2<DT> d_times) {
  using T = ffi::NativeType<DT>;
  const int64_t batch = event_times.dimensions()[0];
  const int64_t n_out = weights.dimensions()[2], k_slots = times.dimensions()[2];
  const int64_t n_dw = d_weights->dimensions()[0];
  ffi::Error ok = CheckIndex(w_index.typed_data(), batch, weights.dimensions()[0], "w_index");
  if (ok.failure()) return ok;
  ok = CheckIndex(dw_index.typed_data(), batch, n_dw, "dw_index");
  if (ok.failure()) return ok;
  const int64_t n_events = event_times.dimensions()[1];
  ok = CheckEvents(event_times, event_source, weights.dimensions()[1], k_slots);
  if (ok.failure()) return ok;
  // Stored spikes per neuron, in [0, K]; each one's last causal event must be an event.
  std::vector<int32_t> n_stored(batch * n_out);
  for (int64_t i = 0; i < batch * n_out; ++i) {
    const int64_t n = std::clamp<int64_t>(n_spikes.typed_data()[i], 0, k_slots);
    n_stored[i] = static_cast<int32_t>(n);
    const int32_t* index = event_index.typed_data() + i * k_slots;
    for (int64_t k = 0; k < n; ++k) {
      if (index[k] < 0 || index[k] >= n_events) {
        return ffi::Error::InvalidArgument("snnjax: a spike's event index is not an event");
      }
    }
  }
  const SampleLayers<T> layers{event_times.typed_data(), event_source.typed_data(),
                               weights.typed_data(), w_index.typed_data(), nullptr,
                               delta_theta.typed_data(), tau_syn.typed_data(), nullptr,
                               event_times.dimensions()[1], weights.dimensions()[1] * n_out,
                               n_out, k_slots, n_out};
  const SamplesSpikes<T> spikes{cot_times.typed_data(), times.typed_data(), slope.typed_data(),
                                event_index.typed_data(), n_stored.data()};
  IndexedBackwardSamples<T>(layers, spikes, dw_index.typed_data(), batch, n_dw,
                            d_weights->typed_data(), d_times->typed_data());
  return ffi::Error::Success();
}

}  // namespace

#define SNNJAX_FORWARD_INDEXED(NAME, DT)                                         \
  XLA_FFI_DEFINE_HANDLER_SYMBOL(NAME, ForwardIndexed<DT>,                        \
                                ffi::Ffi::Bind()                                 \
                                    .Arg<ffi::BufferR2<DT>>()       /* event_times */  \
                                    .Arg<ffi::BufferR2<ffi::S32>>() /* event_source */ \
                                    .Arg<ffi::BufferR3<DT>>()       /* weights [S] */  \
                                    .Arg<ffi::BufferR1<ffi::S32>>() /* w_index [B] */  \
                                    .Arg<ffi::BufferR2<DT>>()       /* theta [B, N] */ \
                                    .Arg<ffi::BufferR2<DT>>()       /* delta_theta */  \
                                    .Arg<ffi::BufferR1<DT>>()       /* tau_syn [B] */  \
                                    .Arg<ffi::BufferR1<DT>>()       /* t_max [B] */    \
                                    .Ret<ffi::BufferR3<DT>>()       /* times */        \
                                    .Ret<ffi::BufferR3<DT>>()       /* slope */        \
                                    .Ret<ffi::BufferR3<ffi::S32>>() /* event_index */  \
                                    .Ret<ffi::BufferR2<ffi::S32>>() /* n_spikes */     \
                                    .Ret<ffi::BufferR2<ffi::S32>>() /* n_unresolved */);

#define SNNJAX_FORWARD_TIMES(NAME, DT)                                           \
  XLA_FFI_DEFINE_HANDLER_SYMBOL(NAME, ForwardTimes<DT>,                          \
                                ffi::Ffi::Bind()                                 \
                                    .Arg<ffi::BufferR2<DT>>()       /* event_times */  \
                                    .Arg<ffi::BufferR2<ffi::S32>>() /* event_source */ \
                                    .Arg<ffi::BufferR3<DT>>()       /* weights [S] */  \
                                    .Arg<ffi::BufferR1<ffi::S32>>() /* w_index [B] */  \
                                    .Arg<ffi::BufferR2<DT>>()       /* theta [B, N] */ \
                                    .Arg<ffi::BufferR2<DT>>()       /* delta_theta */  \
                                    .Arg<ffi::BufferR1<DT>>()       /* tau_syn [B] */  \
                                    .Arg<ffi::BufferR1<DT>>()       /* t_max [B] */    \
                                    .Ret<ffi::BufferR3<DT>>()       /* times */        \
                                    .Ret<ffi::BufferR2<ffi::S32>>() /* n_spikes */     \
                                    .Ret<ffi::BufferR2<ffi::S32>>() /* n_unresolved */);

#define SNNJAX_BACKWARD_INDEXED(NAME, DT)                                        \
  XLA_FFI_DEFINE_HANDLER_SYMBOL(NAME, BackwardIndexed<DT>,                       \
                                ffi::Ffi::Bind()                                 \
                                    .Arg<ffi::BufferR2<DT>>()       /* event_times */  \
                                    .Arg<ffi::BufferR2<ffi::S32>>() /* event_source */ \
                                    .Arg<ffi::BufferR3<DT>>()       /* weights [S] */  \
                                    .Arg<ffi::BufferR1<ffi::S32>>() /* w_index [B] */  \
                                    .Arg<ffi::BufferR1<ffi::S32>>() /* dw_index [B] */ \
                                    .Arg<ffi::BufferR2<DT>>()       /* delta_theta */  \
                                    .Arg<ffi::BufferR1<DT>>()       /* tau_syn [B] */  \
                                    .Arg<ffi::BufferR3<DT>>()       /* cot_times */    \
                                    .Arg<ffi::BufferR3<DT>>()       /* times */        \
                                    .Arg<ffi::BufferR3<DT>>()       /* slope */        \
                                    .Arg<ffi::BufferR3<ffi::S32>>() /* event_index */  \
                                    .Arg<ffi::BufferR2<ffi::S32>>() /* n_spikes */     \
                                    .Ret<ffi::BufferR3<DT>>()       /* d_weights */    \
                                    .Ret<ffi::BufferR2<DT>>()       /* d_event_times */);

SNNJAX_FORWARD_INDEXED(SnnjaxLifForwardIndexedF32, ffi::F32)
SNNJAX_FORWARD_INDEXED(SnnjaxLifForwardIndexedF64, ffi::F64)
SNNJAX_FORWARD_TIMES(SnnjaxLifForwardTimesF32, ffi::F32)
SNNJAX_FORWARD_TIMES(SnnjaxLifForwardTimesF64, ffi::F64)
SNNJAX_BACKWARD_INDEXED(SnnjaxLifBackwardIndexedF32, ffi::F32)
SNNJAX_BACKWARD_INDEXED(SnnjaxLifBackwardIndexedF64, ffi::F64)
