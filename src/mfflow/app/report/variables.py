"""Names and units of the variables in ``results.nc`` (``long_name`` and ``units`` attributes).

A section may set ``long_name``/``units`` on a variable itself; :func:`describe` fills in the
rest from :data:`GLOSSARY`. Units: ``"1"`` for dimensionless numbers (everything here is in the
target's units, which are arbitrary), ``"gradient-flow time"`` for times ``t`` of
``dU/dt = (Y - U U^T) U``, ``"gradient-flow time per step"`` for step sizes ``eta``.
"""

from __future__ import annotations

import numpy as np
import xarray as xr

__all__ = ["GLOSSARY", "UNITS", "describe", "undescribed"]

T = "gradient-flow time"
ONE = "1"

#: name -> (long_name, units) for every variable a section of ``mfflow reproduce`` writes.
GLOSSARY: dict[str, tuple[str, str]] = {
    # shared coordinates and scalars
    "time": ("time t", T),
    "t_sim": ("time t of the ODE solve's samples", T),
    "mode": ("mode index i (eigenvalues descending)", ONE),
    "k": ("rank k / mode index", ONE),
    "sv": ("singular-value index", ONE),
    "seed": ("random seed of the operator", ONE),
    "depth": ("depth L of the factorization", ONE),
    "rho": ("relative imbalance rho of the unbalanced init", ONE),
    "problem": ("problem (symmetric U U^T or asymmetric U V^T)", ""),
    "regime": ("step-size regime of the drawn GD curves", ""),
    "init": ("initialization", ""),
    "operator": ("measurement operator", ""),
    "ratio_step": ("index of the interval between consecutive ratios", ONE),
    "index": ("mode index i", ONE),
    "alpha": ("initialization scale alpha (U(0) = sqrt(alpha) U0)", ONE),
    "eps": ("tolerance eps of the theorem (spectral norm)", ONE),
    "sigma": ("positive eigenvalues (or singular values) of the target, descending", ONE),
    "r": ("width r of the factor U", ONE),
    "n": ("size n of the target", ONE),
    "m": ("number of measurements m", ONE),
    "eta": ("step size eta of gradient descent", "gradient-flow time per step"),
    # setup
    "Y_rect": ("rectangular target of the asymmetric problem", ONE),
    "U0_rect": ("left factor shape U0 of the balanced asymmetric init", ONE),
    "V0_rect": ("right factor shape V0 of the balanced asymmetric init", ONE),
    "Y": ("target Y", ONE),
    # transition times
    "t_predicted": ("predicted transition time log(1/alpha) / (2 sigma_i)", T),
    "t_measured": ("measured transition time: first crossing of sigma_i / 2", T),
    "transition": ("measured transition time: first crossing of sigma_i / 2", T),
    "cf_transition": ("transition time of the closed form: first crossing of sigma_i / 2", T),
    "t_lower": ("end of the certified interval sigma_{i,W} <= eps", T),
    "t_upper": ("start of the certified interval sigma_{i,W} >= sigma_i - eps", T),
    "t_stop": ("early-stopping time t_k, halfway in log time between transitions k, k+1", T),
    # theorem
    "M": ("constant M of the theorem", ONE),
    "c_eps": ("constant c_eps of the theorem (right ends)", ONE),
    "C_eps": ("constant C_eps of the theorem (corrected left ends)", ONE),
    "cert_lo": ("certified interval I_k: start log(C_eps/alpha)/(2 sigma_k)", T),
    "cert_hi": ("certified interval I_k: end log(c_eps/alpha)/(2 sigma_{k+1})", T),
    "paper_lo": ("I_k as transcribed: start log(c_eps/alpha)/(2 sigma_k)", T),
    "paper_hi": ("I_k as transcribed: end log(c_eps/alpha)/(2 sigma_{k+1})", T),
    "paper_lo_error": ("||W(t) - Yhat_k||_2 at the transcribed start of I_k", ONE),
    "meas_lo": ("measured interval {t: ||W(t) - Yhat_k||_2 <= eps}: start", T),
    "meas_hi": ("measured interval {t: ||W(t) - Yhat_k||_2 <= eps}: end", T),
    "max_error_on_certified": ("max of ||W(t) - Yhat_k||_2 on the certified interval", ONE),
    "holds": ("bound holds on the certified interval (1 yes, 0 no, -1 empty)", ONE),
    "contained": ("certified interval inside the measured one (1 yes, 0 no, -1 empty)", ONE),
    "hypotheses_hold": ("hypotheses of the theorem hold (1 yes, 0 no)", ONE),
    # fits
    "slope_fit": ("fitted slope of the transition time against log(1/alpha)", T),
    "intercept_fit": ("fitted intercept of the transition time against log(1/alpha)", T),
    "slope_theory": ("predicted slope 1 / (2 sigma_i)", T),
    "fit_alpha_max": ("largest alpha used in the slope fit", ONE),
    "fit_eta_max": ("largest step size used in the order fit", "gradient-flow time per step"),
    "distance_slope": ("fitted slope of log distance against log(m / (n r))", ONE),
    "distance_slope_se": ("standard error of that slope", ONE),
    "distance_constant": ("fitted constant of the distance power law", ONE),
    "local_slope": ("slope of log mean distance between consecutive ratios", ONE),
    # general init
    "cf": ("eigenvalues of W(t), closed form", ONE),
    "gf": ("eigenvalues of W(t), ODE solve of the flow", ONE),
    "gd": ("eigenvalues of the gradient-descent iterate W_k", ONE),
    "gd_time": ("time k eta of the gradient-descent iterate", T),
    "gd_diverged": ("gradient descent diverged (1 yes, 0 no)", ONE),
    "gd_marker_eta": (
        "step size of the drawn gradient-descent iterates",
        "gradient-flow time per step",
    ),
    "gd_max_error": ("max over t of ||W_GD - W_closed||_2", ONE),
    "gf_max_error": ("max over t of ||W_GF - W_closed||_2", ONE),
    # early stopping
    "eckart_young_fro": ("min over rank-k Z of ||Z - Y||_F", ONE),
    # gd vs gf
    "constant": ("fitted constant of the gap power law", ONE),
    "diverged": ("gradient descent diverged (1 yes, 0 no)", ONE),
    "horizon": ("time to which GD is run and compared", T),
    "eta_match": (
        "largest eta with transitions within 10% of the flow's",
        "gradient-flow time per step",
    ),
    "eta_incremental": ("largest eta with incremental learning", "gradient-flow time per step"),
    "eta_converge": ("largest eta for which GD converges", "gradient-flow time per step"),
    "eta_blowup": ("smallest eta for which GD blows up", "gradient-flow time per step"),
    "show_eta": ("step sizes of the drawn GD curves", "gradient-flow time per step"),
    "flow_values": ("eigen- or singular values of the exact flow", ONE),
    "gd_values": ("eigen- or singular values of the GD iterates", ONE),
    "rect_shape": ("shape of the rectangular target", ONE),
    # asymmetric
    "study_imbalance": ("alpha ||U0^T U0 - V0^T V0||_2 of the unbalanced init", ONE),
    "study_shift": ("measured transition shift against the balanced init", T),
    "study_predicted_shift": ("transition shift predicted by the linear phase", T),
    # deep
    "exact_half": ("exact half-way time t_1/2 (balanced spectral init, identity operator)", T),
    "exact_width": ("exact transition width t_0.9 - t_0.1", T),
    "gd_half": ("GD half-way time t_1/2 (Gaussian sensing, random init)", T),
    "gd_width": ("GD transition width t_0.9 - t_0.1", T),
    # sensing
    "cf_values": ("top eigenvalue magnitudes of W(t), closed form (identity operator)", ONE),
    "values": ("top eigenvalue magnitudes of W(t)", ONE),
    "distance_mean_t": ("mean over t of ||s(t) - s_closed(t)||_2 / ||sigma||_2", ONE),
}


#: Units of the variables whose ``long_name`` the sections set themselves.
UNITS: dict[str, str] = {
    "U0_spectral": ONE,
    "U0_general": ONE,
    "value": ONE,
    "gf_error": ONE,
    "gd_error": ONE,
    "distance": ONE,
    "error": ONE,
    "error_fro": ONE,
    "error_hat": ONE,
    "eckart_young": ONE,
    "gap": ONE,
    "order": ONE,
    "curvature": ONE,
    "eta_stability": "gradient-flow time per step",
    "exact": ONE,
    "imbalance": ONE,
    "study_distance": ONE,
    "exact_values": ONE,
    "gd_recovery": ONE,
    "overshoot": ONE,
    "normalized": ONE,
    "u": ONE,
    "recovery": ONE,
    "ratio": ONE,
}


def describe(ds: xr.Dataset) -> xr.Dataset:
    """``ds`` with ``long_name`` and ``units`` on every variable and coordinate: those it has
    are kept, the others come from :data:`GLOSSARY` (unknown names are left as they are)."""
    for name in [*ds.data_vars, *ds.coords]:
        attrs = ds[name].attrs
        long_name, units = GLOSSARY.get(str(name), (None, UNITS.get(str(name))))
        if "long_name" not in attrs and long_name is not None:
            attrs["long_name"] = long_name
        if "units" not in attrs and units and np.issubdtype(ds[name].dtype, np.number):
            attrs["units"] = units
    return ds


def undescribed(ds: xr.Dataset) -> list[str]:
    """Variables of ``ds`` without a ``long_name``, or numeric ones without ``units``."""
    out = []
    for name in [*ds.data_vars, *ds.coords]:
        attrs = ds[name].attrs
        numeric = np.issubdtype(ds[name].dtype, np.number)
        if "long_name" not in attrs or (numeric and "units" not in attrs):
            out.append(str(name))
    return out
