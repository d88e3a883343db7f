"""identity's event handlers, by queue of the topology and event type."""
from .service.departments import apply_department_upserted

HANDLERS = {
    "identity.departments": {"patients.department.upserted": apply_department_upserted},
}
