"""家庭医生签约: family-doctor teams of community health centres and township clinics, their service packages,
residents signing online, the teams' follow-up plans. Contracts live in records' one contract table (pushed ones too);
other features ask `family.contracts.signed_team(patient_id)`."""
