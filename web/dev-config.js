// Written by scripts/dev.sh for local development; never deployed.
window.BURST_CONFIG = {
  api: "http://127.0.0.1:9200",
  devTokens: {
    "alice": "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJjb2duaXRvOmdyb3VwcyI6W10sImV4cCI6MTc5NTUwNzkzOSwiaWF0IjoxNzk1NDY0NzM5LCJpc3MiOiJidXJzdC1sb2NhbCIsInN1YiI6ImFsaWNlIn0.W7Iy179I0UhnleZt0vKsGMEqRzkEMK9RVBS5upfn8Rs",
    "bob": "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJjb2duaXRvOmdyb3VwcyI6W10sImV4cCI6MTc5NTUwNzkzOSwiaWF0IjoxNzk1NDY0NzM5LCJpc3MiOiJidXJzdC1sb2NhbCIsInN1YiI6ImJvYiJ9.AntpGZoN5Qcl9QE9Cfzff5y-SXmduPdD968iRKoonQI",
    "carol": "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJjb2duaXRvOmdyb3VwcyI6W10sImV4cCI6MTc5NTUwNzkzOSwiaWF0IjoxNzk1NDY0NzM5LCJpc3MiOiJidXJzdC1sb2NhbCIsInN1YiI6ImNhcm9sIn0.5oZ2_MlaM7sIUkGmZvOv2nQrjxCnNWeyB75HygVOTyA",
    "admin": "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJjb2duaXRvOmdyb3VwcyI6WyJhZG1pbiJdLCJleHAiOjE3OTU1MDc5MzksImlhdCI6MTc5NTQ2NDczOSwiaXNzIjoiYnVyc3QtbG9jYWwiLCJzdWIiOiJhZG1pbiJ9.I6_w0OXs_Zbax3XuBn70zBiqqccsf_mtC-Sp_GfZeb0"
  }
};
