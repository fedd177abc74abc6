"""双向转诊: up-referrals from clinics to city hospitals with a kept ticket, down-referrals back (docs/referrals.md)."""
