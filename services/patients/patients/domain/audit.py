"""What the audit log records: every read, search, creation, transfer step and status report."""

PATIENT_LOOKUP = "patient.lookup"              # "is this CPR registered elsewhere?" (E1)
PATIENT_CREATE = "patient.create"
PATIENT_CREATE_REFUSED = "patient.create_refused"  # the CPR existed: where it is was revealed
PATIENT_READ = "patient.read"
PATIENT_UPDATE = "patient.update"
PATIENT_SEARCH = "patient.search"
PLATFORM_STATUS_READ = "patient.platform_status.read"
DEPARTMENT_PATIENTS_LIST = "department.patients.list"
TRANSFER_REQUEST = "transfer.request"
TRANSFER_APPROVE = "transfer.approve"
TRANSFER_REJECT = "transfer.reject"
TRANSFER_CANCEL = "transfer.cancel"
TRANSFER_EXPIRE = "transfer.expire"
TRANSFER_LIST = "transfer.list"
PLATFORM_STATUS_REPORT = "platform_status.report"
AUDIT_READ = "audit.read"

# Who acts when nobody does: the worker expiring overdue transfer requests.
SYSTEM_SUBJECT = "system"
SYSTEM_USERNAME = "transfer-expiry"
