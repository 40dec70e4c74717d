"""Local stand-ins for Jira Cloud and ServiceNow, speaking their public REST APIs over real HTTP. They import nothing else of itsm-align."""
