// snnjax CPU event kernel: exact LIF spike times (forward) and their exact gradients
// (backward), as XLA FFI custom calls. Same algorithm and conventions as the pure-JAX
// kernel in snnjax/kernel.py and snnjax/grad.py (which remain the reference and the
// path used on GPU/TPU); this file only removes XLA's per-event loop overhead on CPU.
//
// Conventions (B samples, E events, n_in inputs, N neurons, K slots):
//   event_times [B, E] sorted, +inf padded, all < t_max;  event_source [B, E] int32
//   weights [n_in, N];  theta, delta_theta [N];  scalars = [tau_syn, t_max]
// State per neuron is kept relative to the current event time (decays only), so nothing
// overflows however long the simulation.

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>
#include <vector>

#include <omp.h>

#include "xla/ffi/api/ffi.h"

namespace ffi = xla::ffi;

namespace {

template <typename T>
int64_t CountValid(const T* times, int64_t n) {
  int64_t k = 0;
  while (k < n && std::isfinite(times[k])) ++k;
  return k;
}

template <typename T>
void ForwardSample(const T* t_ev, const int32_t* src, const T* weights, const T* c,
                   const T* kappa, T tau_syn, T t_max, int64_t n_events, int64_t n_out,
                   int64_t k_slots, T* times, T* slope, int32_t* event_index,
                   int32_t* n_spikes, T* a, T* b, int32_t* flag) {
  const T tau_mem = T(2) * tau_syn;
  const T inf = std::numeric_limits<T>::infinity();
  for (int64_t i = 0; i < n_out * k_slots; ++i) {
    times[i] = inf;
    slope[i] = T(1);
    event_index[i] = -1;
  }
  for (int64_t i = 0; i < n_out; ++i) {
    a[i] = T(0);
    b[i] = T(0);
    n_spikes[i] = 0;
  }
  const int64_t n_valid = CountValid(t_ev, n_events);
  for (int64_t m = 0; m < n_valid; ++m) {
    const T t_m = t_ev[m];
    const T dt = m > 0 ? t_m - t_ev[m - 1] : T(0);
    const T decay_syn = std::exp(-dt / tau_syn);
    const T decay_mem = std::exp(-dt / tau_mem);
    const T* w = weights + static_cast<int64_t>(src[m]) * n_out;
    const T t_next = std::min(m + 1 < n_valid ? t_ev[m + 1] : inf, t_max);
    const bool open = t_next > t_m;
    const T z_hi = open ? std::exp((t_next - t_m) / tau_mem) : T(1);
    // Vectorised pass: integrate the event and flag the neurons that cross in (t_m, t_next].
    // (Branch-free so that it vectorises; a division by zero only yields inf/NaN here,
    // which the comparisons reject.)
    int32_t any = 0;
    const int32_t open_i = open;
#pragma omp simd reduction(| : any)
    for (int64_t i = 0; i < n_out; ++i) {
      const T ai = a[i] * decay_syn + w[i];
      const T bi = b[i] * decay_mem + w[i];
      a[i] = ai;
      b[i] = bi;
      const T disc = bi * bi - T(4) * ai * c[i];
      const T z = T(2) * ai / (bi + std::sqrt(std::max(disc, T(0))));
      const int32_t f = open_i & (ai > T(0)) & (bi > T(0)) & (disc >= T(0)) & (z > T(1)) &
                        (z <= z_hi);
      flag[i] = f;
      any |= f;
    }
    if (!any) continue;
    for (int64_t i = 0; i < n_out; ++i) {
      if (!flag[i]) continue;
      T z_lo = T(1);
      T bi = b[i];
      const T ai = a[i];
      if (!(ai > T(0)) || !(bi > T(0))) continue;  // no positive root without both
      while (true) {
        const T disc = bi * bi - T(4) * ai * c[i];
        if (!(disc >= T(0))) break;
        const T x = std::sqrt(disc);
        const T denom = bi + x;
        if (!(denom > T(0))) break;
        const T z = T(2) * ai / denom;
        if (!(z > z_lo) || !(z <= z_hi)) break;
        T t_spike = t_m + tau_mem * std::log(z);
        t_spike = std::min(std::max(t_spike, t_m), t_next);
        const int32_t k = n_spikes[i];
        if (k < k_slots) {
          times[i * k_slots + k] = t_spike;
          slope[i * k_slots + k] = x;
          event_index[i * k_slots + k] = static_cast<int32_t>(m);
        }
        n_spikes[i] = k + 1;
        bi -= kappa[i] * z;
        z_lo = z;
      }
      b[i] = bi;
    }
  }
}

// Total error of every stored spike, including the paths through the resets of later
// spikes (SPEC §4): E_k = e_k + z_k sum_{n>k} kappa E_n / x_n, frames converted on the way;
// returns dL/da and dL/db of each spike in the frame of its last causal event.
template <typename T>
void SpikeErrors(const T* t_ev, const T* cot, const T* times, const T* slope,
                 const int32_t* event_index, int32_t n_stored, T tau_mem, T kappa,
                 T* grad_a, T* grad_b) {
  T s = T(0);
  T frame_next = T(0);
  for (int32_t k = n_stored - 1; k >= 0; --k) {
    const T frame = t_ev[event_index[k]];
    const T z = std::exp((times[k] - frame) / tau_mem);
    if (k < n_stored - 1) s *= std::exp((frame - frame_next) / tau_mem);
    const T err = cot[k] + z * s;
    s += kappa * err / slope[k];
    frame_next = frame;
    grad_a[k] = err * tau_mem / (z * slope[k]);
    grad_b[k] = -err * tau_mem / slope[k];
  }
}

template <typename T>
void BackwardSample(const T* t_ev, const int32_t* src, const T* weights, T tau_syn,
                    const T* kappa, const T* cot, const T* times, const T* slope,
                    const int32_t* event_index, const int32_t* n_stored, int64_t n_events,
                    int64_t n_out, int64_t k_slots, T* d_weights, T* d_times, T* u, T* v,
                    int32_t* pointer, int32_t* next_event, T* grad_a, T* grad_b) {
  const T tau_mem = T(2) * tau_syn;
  const int64_t n_valid = CountValid(t_ev, n_events);
  for (int64_t m = 0; m < n_events; ++m) d_times[m] = T(0);
  for (int64_t i = 0; i < n_out; ++i) {
    u[i] = T(0);
    v[i] = T(0);
    pointer[i] = n_stored[i] - 1;
    next_event[i] = n_stored[i] > 0 ? event_index[i * k_slots + n_stored[i] - 1] : -1;
    SpikeErrors<T>(t_ev, cot + i * k_slots, times + i * k_slots, slope + i * k_slots,
                   event_index + i * k_slots, n_stored[i], tau_mem, kappa[i],
                   grad_a + i * k_slots, grad_b + i * k_slots);
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
    for (int64_t i = 0; i < n_out; ++i) {
      u[i] *= decay_syn;
      v[i] *= decay_mem;
      any |= (next_event[i] == m32);
    }
    if (any) {
      for (int64_t i = 0; i < n_out; ++i) {
        if (next_event[i] != m32) continue;
        int32_t p = pointer[i];
        while (p >= 0 && event_index[i * k_slots + p] == m32) {
          u[i] += grad_a[i * k_slots + p];
          v[i] += grad_b[i * k_slots + p];
          --p;
        }
        pointer[i] = p;
        next_event[i] = p >= 0 ? event_index[i * k_slots + p] : -1;
      }
    }
    const int64_t s = src[m];
    const T* w = weights + s * n_out;
    T* dw = d_weights + s * n_out;
    T g_t = T(0);
#pragma omp simd reduction(+ : g_t)
    for (int64_t i = 0; i < n_out; ++i) {
      dw[i] += u[i] + v[i];
      g_t += w[i] * (u[i] * inv_tau_syn + v[i] * inv_tau_mem);
    }
    d_times[m] = g_t;
  }
}

template <ffi::DataType DT>
ffi::Error Forward(ffi::Buffer<DT> event_times, ffi::Buffer<ffi::S32> event_source,
                   ffi::Buffer<DT> weights, ffi::Buffer<DT> theta,
                   ffi::Buffer<DT> delta_theta, ffi::Buffer<DT> scalars,
                   ffi::ResultBuffer<DT> times, ffi::ResultBuffer<DT> slope,
                   ffi::ResultBuffer<ffi::S32> event_index,
                   ffi::ResultBuffer<ffi::S32> n_spikes) {
  using T = ffi::NativeType<DT>;
  const auto ev_dims = event_times.dimensions();
  const auto w_dims = weights.dimensions();
  const auto out_dims = times->dimensions();
  if (ev_dims.size() != 2 || w_dims.size() != 2 || out_dims.size() != 3) {
    return ffi::Error::InvalidArgument("snnjax lif forward: bad ranks");
  }
  const int64_t batch = ev_dims[0], n_events = ev_dims[1];
  const int64_t n_out = w_dims[1], k_slots = out_dims[2];
  const T tau_syn = scalars.typed_data()[0];
  const T t_max = scalars.typed_data()[1];
  const T tau_mem = T(2) * tau_syn;
  std::vector<T> c(n_out), kappa(n_out);
  for (int64_t i = 0; i < n_out; ++i) {
    c[i] = theta.typed_data()[i] / tau_mem;
    kappa[i] = delta_theta.typed_data()[i] / tau_mem;
  }
#pragma omp parallel
  {
    std::vector<T> a(n_out), b(n_out);
    std::vector<int32_t> flag(n_out);
#pragma omp for schedule(dynamic, 1)
    for (int64_t s = 0; s < batch; ++s) {
      ForwardSample<T>(event_times.typed_data() + s * n_events,
                       event_source.typed_data() + s * n_events, weights.typed_data(),
                       c.data(), kappa.data(), tau_syn, t_max, n_events, n_out, k_slots,
                       times->typed_data() + s * n_out * k_slots,
                       slope->typed_data() + s * n_out * k_slots,
                       event_index->typed_data() + s * n_out * k_slots,
                       n_spikes->typed_data() + s * n_out, a.data(), b.data(), flag.data());
    }
  }
  return ffi::Error::Success();
}

template <ffi::DataType DT>
ffi::Error Backward(ffi::Buffer<DT> event_times, ffi::Buffer<ffi::S32> event_source,
                    ffi::Buffer<DT> weights, ffi::Buffer<DT> delta_theta,
                    ffi::Buffer<DT> scalars, ffi::Buffer<DT> cot_times,
                    ffi::Buffer<DT> times, ffi::Buffer<DT> slope,
                    ffi::Buffer<ffi::S32> event_index, ffi::Buffer<ffi::S32> n_spikes,
                    ffi::ResultBuffer<DT> d_weights, ffi::ResultBuffer<DT> d_times) {
  using T = ffi::NativeType<DT>;
  const auto ev_dims = event_times.dimensions();
  const auto w_dims = weights.dimensions();
  const auto k_dims = times.dimensions();
  if (ev_dims.size() != 2 || w_dims.size() != 2 || k_dims.size() != 3) {
    return ffi::Error::InvalidArgument("snnjax lif backward: bad ranks");
  }
  const int64_t batch = ev_dims[0], n_events = ev_dims[1];
  const int64_t n_in = w_dims[0], n_out = w_dims[1], k_slots = k_dims[2];
  const T tau_syn = scalars.typed_data()[0];
  std::vector<T> kappa(n_out);
  for (int64_t i = 0; i < n_out; ++i) kappa[i] = delta_theta.typed_data()[i] / (T(2) * tau_syn);
  std::vector<int32_t> n_stored(batch * n_out);
  for (int64_t i = 0; i < batch * n_out; ++i) {
    n_stored[i] = std::min<int32_t>(n_spikes.typed_data()[i], static_cast<int32_t>(k_slots));
  }
  // Each thread accumulates the weight gradient of a fixed, contiguous block of samples
  // (static schedule) in its own buffer; the buffers are then added in thread order, so the
  // result is bitwise reproducible for a given number of threads.
  const int n_threads = omp_get_max_threads();
  std::vector<std::vector<T>> dw_thread(n_threads);
#pragma omp parallel num_threads(n_threads)
  {
    std::vector<T>& dw = dw_thread[omp_get_thread_num()];
    dw.assign(n_in * n_out, T(0));
    std::vector<T> u(n_out), v(n_out);
    std::vector<T> grad_a(n_out * k_slots), grad_b(n_out * k_slots);
    std::vector<int32_t> pointer(n_out), next_event(n_out);
#pragma omp for schedule(static)
    for (int64_t s = 0; s < batch; ++s) {
      const int64_t off = s * n_out * k_slots;
      BackwardSample<T>(event_times.typed_data() + s * n_events,
                        event_source.typed_data() + s * n_events, weights.typed_data(),
                        tau_syn, kappa.data(), cot_times.typed_data() + off,
                        times.typed_data() + off, slope.typed_data() + off,
                        event_index.typed_data() + off, n_stored.data() + s * n_out,
                        n_events, n_out, k_slots, dw.data(),
                        d_times->typed_data() + s * n_events, u.data(), v.data(),
                        pointer.data(), next_event.data(), grad_a.data(), grad_b.data());
    }
  }
  T* dw_out = d_weights->typed_data();
  std::fill(dw_out, dw_out + n_in * n_out, T(0));
  for (const auto& dw : dw_thread) {
    if (dw.empty()) continue;
    for (int64_t i = 0; i < n_in * n_out; ++i) dw_out[i] += dw[i];
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
ffi::Error SortEvents(ffi::Buffer<DT> input_times, ffi::Buffer<DT> t_max_buf,
                      ffi::ResultBuffer<DT> event_times, ffi::ResultBuffer<ffi::S32> source,
                      ffi::ResultBuffer<ffi::S32> slot, ffi::ResultBuffer<ffi::S32> n_valid) {
  using T = ffi::NativeType<DT>;
  const auto dims = input_times.dimensions();
  const auto out_dims = event_times->dimensions();
  if (dims.size() != 3 || out_dims.size() != 2) {
    return ffi::Error::InvalidArgument("snnjax sort events: bad ranks");
  }
  const int64_t batch = dims[0], k_in = dims[2], n_slots = dims[1] * dims[2];
  const int64_t n_events = out_dims[1];
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
ffi::Error ScatterEvents(ffi::Buffer<DT> d_event_times, ffi::Buffer<ffi::S32> slot,
                         ffi::ResultBuffer<DT> d_input_times) {
  using T = ffi::NativeType<DT>;
  const auto dims = d_event_times.dimensions();
  const auto out_dims = d_input_times->dimensions();
  if (dims.size() != 2 || out_dims.size() != 3) {
    return ffi::Error::InvalidArgument("snnjax scatter events: bad ranks");
  }
  const int64_t batch = dims[0], n_events = dims[1];
  const int64_t n_slots = out_dims[1] * out_dims[2];
#pragma omp parallel for schedule(static)
  for (int64_t s = 0; s < batch; ++s) {
    T* out = d_input_times->typed_data() + s * n_slots;
    std::fill(out, out + n_slots, T(0));
    const T* d = d_event_times.typed_data() + s * n_events;
    const int32_t* sl = slot.typed_data() + s * n_events;
    for (int64_t k = 0; k < n_events && sl[k] >= 0; ++k) out[sl[k]] = d[k];
  }
  return ffi::Error::Success();
}

}  // namespace

#define SNNJAX_FORWARD(NAME, DT)                                  \
  XLA_FFI_DEFINE_HANDLER_SYMBOL(NAME, Forward<DT>,                \
                                ffi::Ffi::Bind()                  \
                                    .Arg<ffi::Buffer<DT>>()       \
                                    .Arg<ffi::Buffer<ffi::S32>>() \
                                    .Arg<ffi::Buffer<DT>>()       \
                                    .Arg<ffi::Buffer<DT>>()       \
                                    .Arg<ffi::Buffer<DT>>()       \
                                    .Arg<ffi::Buffer<DT>>()       \
                                    .Ret<ffi::Buffer<DT>>()       \
                                    .Ret<ffi::Buffer<DT>>()       \
                                    .Ret<ffi::Buffer<ffi::S32>>() \
                                    .Ret<ffi::Buffer<ffi::S32>>());

#define SNNJAX_BACKWARD(NAME, DT)                                 \
  XLA_FFI_DEFINE_HANDLER_SYMBOL(NAME, Backward<DT>,               \
                                ffi::Ffi::Bind()                  \
                                    .Arg<ffi::Buffer<DT>>()       \
                                    .Arg<ffi::Buffer<ffi::S32>>() \
                                    .Arg<ffi::Buffer<DT>>()       \
                                    .Arg<ffi::Buffer<DT>>()       \
                                    .Arg<ffi::Buffer<DT>>()       \
                                    .Arg<ffi::Buffer<DT>>()       \
                                    .Arg<ffi::Buffer<DT>>()       \
                                    .Arg<ffi::Buffer<DT>>()       \
                                    .Arg<ffi::Buffer<ffi::S32>>() \
                                    .Arg<ffi::Buffer<ffi::S32>>() \
                                    .Ret<ffi::Buffer<DT>>()       \
                                    .Ret<ffi::Buffer<DT>>());

SNNJAX_FORWARD(SnnjaxLifForwardF32, ffi::F32)
SNNJAX_FORWARD(SnnjaxLifForwardF64, ffi::F64)
SNNJAX_BACKWARD(SnnjaxLifBackwardF32, ffi::F32)
SNNJAX_BACKWARD(SnnjaxLifBackwardF64, ffi::F64)

#define SNNJAX_SORT(NAME, DT)                                     \
  XLA_FFI_DEFINE_HANDLER_SYMBOL(NAME, SortEvents<DT>,             \
                                ffi::Ffi::Bind()                  \
                                    .Arg<ffi::Buffer<DT>>()       \
                                    .Arg<ffi::Buffer<DT>>()       \
                                    .Ret<ffi::Buffer<DT>>()       \
                                    .Ret<ffi::Buffer<ffi::S32>>() \
                                    .Ret<ffi::Buffer<ffi::S32>>() \
                                    .Ret<ffi::Buffer<ffi::S32>>());

SNNJAX_SORT(SnnjaxSortEventsF32, ffi::F32)
SNNJAX_SORT(SnnjaxSortEventsF64, ffi::F64)

#define SNNJAX_SCATTER(NAME, DT)                                  \
  XLA_FFI_DEFINE_HANDLER_SYMBOL(NAME, ScatterEvents<DT>,          \
                                ffi::Ffi::Bind()                  \
                                    .Arg<ffi::Buffer<DT>>()       \
                                    .Arg<ffi::Buffer<ffi::S32>>() \
                                    .Ret<ffi::Buffer<DT>>());

SNNJAX_SCATTER(SnnjaxScatterEventsF32, ffi::F32)
SNNJAX_SCATTER(SnnjaxScatterEventsF64, ffi::F64)
