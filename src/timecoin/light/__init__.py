"""Proofs a light client checks offline, from headers alone (docs/spec/light.md).

`LightProof` carries a transaction, its finality proof and/or its merkle
inclusion proof, and the certified headers that connect them to a trusted
checkpoint; `verify_light_proof` checks all of it with no node and no state.
"""

from timecoin.light.proof import (
    LIGHT_PROOF_VERSION,
    MAX_PROOF_HEADERS,
    InclusionProof,
    LightProof,
    LightProofError,
    LightVerdict,
    ProofHeader,
    decode_light_proof,
    verify_light_proof,
)

__all__ = [
    "LIGHT_PROOF_VERSION",
    "MAX_PROOF_HEADERS",
    "InclusionProof",
    "LightProof",
    "LightProofError",
    "LightVerdict",
    "ProofHeader",
    "decode_light_proof",
    "verify_light_proof",
]
