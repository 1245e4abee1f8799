"""Results for reuse: limits over (m_a, cτ), the HEPData record and recasting of ALP models.

* :mod:`alpscan.reuse.lifetime`: 90 % CL limits on B(B → K(*)a)·B(a → γγ) over (m_a, cτ).
* :mod:`alpscan.reuse.hepdata`: the HEPData submission (``hepdata_lib``) and its reader.
* :mod:`alpscan.reuse.recast`: the excluded region of an ALP model from the published
  likelihoods alone (``alpscan recast``).
* :mod:`alpscan.reuse.models`: the shipped models (W-coupled and photophilic ALP).
"""
