"""A stateful ServiceNow instance simulator over HTTPS (Table API, Batch API,
sys_dictionary/sys_choice, rate limits, faults, and the product's business rule
posting signed events). Imports nothing of itsm-align.

    with ServiceNowSandbox() as sn:
        session = sn.client_session()          # trusts sn.ca_pem_path only
        session.get(f"{sn.url}/api/now/table/incident")
"""
from .business_rule import PostedEvent, RuleRun, sign
from .instance import LoggedRequest
from .sandbox import ServiceNowSandbox
from .store import WriteRejected

__all__ = ["ServiceNowSandbox", "PostedEvent", "RuleRun", "LoggedRequest", "WriteRejected", "sign"]
