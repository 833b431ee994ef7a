"""Pure domain rules of the county notice: state machine, routing, SLA arithmetic."""
