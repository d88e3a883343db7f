"""identity's event handlers, by queue of the topology and event type."""
from .service.departments import apply_department_upserted
from .service.email_status import apply_delivery_outcome

HANDLERS = {
    "identity.departments": {"patients.department.upserted": apply_department_upserted,
                             # issue 5: "e-mail fejlet" from the welcome e-mail's delivery report
                             "notifications.delivery.failed": apply_delivery_outcome,
                             "notifications.delivery.succeeded": apply_delivery_outcome},
}
