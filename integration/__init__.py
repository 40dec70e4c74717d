"""Platform adapters: payload -> WorkItem, read/write fields, set-up, back-fill. Imports only itsm_align.scoring."""
