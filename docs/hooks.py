"""Build hooks for the snnjax documentation.

This file is loaded twice by ``mkdocs.yml``: as an MkDocs hook module and as a Griffe
extension of the mkdocstrings Python handler (``docs/hooks.py:ExampleSections``).
"""

from __future__ import annotations

import re

import griffe

# A Google-style section title "Example:" alone on its line (any indentation).
_EXAMPLE_TITLE = re.compile(r"^(\s*)Example:\s*$", re.MULTILINE)


class ExampleSections(griffe.Extension):
    """Read ``Example:`` sections as ``Examples:`` so their doctests render as code.

    The snnjax docstrings title their doctests ``Example:``; Griffe's Google parser only
    knows ``Examples:`` and would otherwise render the doctest as prose (where its output,
    e.g. ``[3, 3]``, reads as a broken Markdown reference and fails the strict build).
    """

    def on_instance(self, *, obj: griffe.Object, **kwargs) -> None:
        """Rewrite the section title in the docstring of every collected object."""
        if obj.docstring is not None and "Example:" in obj.docstring.value:
            obj.docstring.value = _EXAMPLE_TITLE.sub(r"\1Examples:", obj.docstring.value)


# --------------------------------------------------------------------------------------
# MkDocs hooks (``hooks: [docs/hooks.py]`` in mkdocs.yml)
# --------------------------------------------------------------------------------------

# ``[title][snnjax.x]`` / ``[snnjax.x][]`` left as text by the notebook renderer.
_NOTEBOOK_REF = re.compile(r"\[([^\[\]]+)\]\[(snnjax(?:\.\w+)*)?\]")


def on_page_content(html, page, config, files):
    """Let the tutorials use the API cross-references of the Markdown pages.

    mkdocs-jupyter renders notebook Markdown with nbconvert, which leaves
    ``[title][snnjax.lif_layer]`` as literal text. Rewrite those into the ``<autoref>``
    elements that mkdocs-autorefs resolves after all pages are rendered (an unknown
    identifier is then a warning, i.e. an error in the strict build), as it does for the
    Markdown pages.
    """
    if not page.file.src_uri.startswith("tutorials/") or not page.file.src_uri.endswith(".py"):
        return html

    def autoref(match: re.Match) -> str:
        title, ident = match.group(1), match.group(2)
        if ident is None:  # [snnjax.x][] form
            ident = re.sub(r"</?code>", "", title)
            if not re.fullmatch(r"snnjax(\.\w+)*", ident):
                return match.group(0)
        return f'<autoref identifier="{ident}">{title}</autoref>'

    return _NOTEBOOK_REF.sub(autoref, html)


# The membrane-trace figures of docs/model.md: (file, title, params, inputs, max_spikes).
_MEMBRANE_FIGURES = {
    "images/membrane_multispike.png": dict(
        title="multi-spike neuron (max_spikes=10)",
        tau_syn=5e-3,
        theta=1.0,
        max_spikes=10,
        t_max=0.04,
        input_times=[1e-3, 3e-3, 8e-3, 12e-3, 14e-3, 22e-3],
        weights=[400.0, 300.0, -250.0, 450.0, 350.0, 300.0],
        expect_spikes=5,
    ),
    "images/membrane_ttfs.png": dict(
        title="TTFS neuron (max_spikes=1)",
        tau_syn=5e-3,
        theta=1.0,
        max_spikes=1,
        t_max=0.04,
        input_times=[1e-3, 4e-3, 6e-3, 15e-3],
        weights=[150.0, 200.0, 180.0, -300.0],
        expect_spikes=1,
    ),
}


def _render_membrane(spec: dict) -> bytes:
    """PNG of one neuron's ``u(t)`` (closed form, subtractive reset) and its spike times.

    The output spike times come from :func:`snnjax.lif_layer`; the trace from
    :func:`snnjax.lif.reference.membrane_potential`, evaluated on a grid plus, at every output
    spike, the instants just before (``u = theta``) and just after the reset. The build fails
    if the layer and the trace disagree (``u(t_k) != theta``) or if the example no longer
    fires the expected number of spikes.
    """
    import io

    import jax.numpy as jnp
    import numpy as np
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    import snnjax
    from snnjax.lif.reference import membrane_potential

    tin = np.asarray(spec["input_times"], np.float64)[:, None]
    w = np.asarray(spec["weights"], np.float64)[:, None]
    params = snnjax.LIFParams(tau_syn=spec["tau_syn"], theta=spec["theta"])
    out = snnjax.lif_layer(
        jnp.asarray(tin, jnp.float32),
        jnp.asarray(w, jnp.float32),
        params,
        max_spikes=spec["max_spikes"],
        t_max=spec["t_max"],
    )
    times = np.asarray(out.times[0], np.float64)
    spikes = times[np.isfinite(times)]
    n_dropped = int(out.n_dropped[0])
    if spikes.size != spec["expect_spikes"]:
        raise RuntimeError(
            f"{spec['title']}: expected {spec['expect_spikes']} spikes, "
            f"lif_layer gave {spikes.size}"
        )

    def u_at(t):
        return membrane_potential(
            t, tin, w, times[None, :], tau_syn=spec["tau_syn"], theta=spec["theta"]
        )[:, 0]

    u_spike = u_at(spikes) if spikes.size else np.zeros(0)
    err = float(np.max(np.abs(u_spike - spec["theta"]))) if spikes.size else 0.0
    if err > 1e-4 * spec["theta"]:
        raise RuntimeError(f"{spec['title']}: u(t_k) differs from theta by {err:.2e}")

    after = np.nextafter(spikes, np.inf)
    t = np.unique(np.concatenate([np.linspace(0.0, spec["t_max"], 2001), spikes, after]))
    u = u_at(t)

    fig = Figure(figsize=(7.5, 3.3), layout="constrained")
    FigureCanvasAgg(fig)
    ax = fig.subplots()
    ms = 1e3
    ax.plot(t * ms, u, color="tab:blue", lw=1.4, label="membrane potential $u(t)$")
    ax.axhline(spec["theta"], color="k", ls="--", lw=1, label=r"threshold $\theta$")
    for i, (ti, wi) in enumerate(zip(tin[:, 0], w[:, 0], strict=True)):
        color = "tab:green" if wi > 0 else "tab:purple"
        label = None
        if i == int(np.argmax(w[:, 0] > 0)):
            label = "excitatory input spike"
        elif i == int(np.argmax(w[:, 0] < 0)) and wi < 0:
            label = "inhibitory input spike"
        ax.axvline(ti * ms, color=color, lw=1, alpha=0.5, label=label)
    ax.plot(
        spikes * ms, u_spike, "o", color="tab:red", ms=6, zorder=5, label="output spike (lif_layer)"
    )
    for ts in spikes:
        ax.axvline(ts * ms, color="tab:red", lw=0.8, ls=":")
    ax.set_xlim(0, spec["t_max"] * ms)
    ax.set_xlabel("time (ms)")
    ax.set_ylabel("u")
    ax.set_title(
        f"{spec['title']}: {spikes.size} spike(s), n_dropped = {n_dropped}, "
        f"max |u(t_k) − θ| = {err:.1e}",
        fontsize=9,
    )
    fig.legend(loc="outside lower center", fontsize=7, ncol=5, frameon=False)
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=110)
    return buf.getvalue()


def on_files(files, config):
    """Render the membrane-trace figures of the model page from the code, at build time."""
    from mkdocs.structure.files import File

    for uri, spec in _MEMBRANE_FIGURES.items():
        files.append(File.generated(config, uri, content=_render_membrane(spec)))
    return files
