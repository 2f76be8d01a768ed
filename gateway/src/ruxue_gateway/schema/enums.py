"""Core vocabularies exposed as GraphQL enums.

``strawberry.enum`` marks the core's own enum classes in place, so GraphQL fields annotate
with the core types directly and there is one definition of each vocabulary. Importing this
module is what registers them; every schema module that uses an enum imports it.
"""

from __future__ import annotations

import strawberry

from ruxue_core.domain import enums

strawberry.enum(enums.Status, name="ApplicationStatus", description="办件状态 (application status)")
strawberry.enum(enums.Channel, description="申报来源: online or at a counter")
strawberry.enum(enums.Relationship, description="监护人与儿童的关系 (guardian's relationship)")
strawberry.enum(enums.ReviewDecision, description="审核结论 (review decision)")
strawberry.enum(enums.Outcome, name="VerificationOutcome", description="核验结果")
strawberry.enum(enums.JobStatus, description="后台任务状态 (outbox job state)")
strawberry.enum(enums.Role, description="角色 (a principal's role)")
strawberry.enum(enums.Stage, description="学段 (school stage)")
strawberry.enum(enums.MessageStatus, name="SmsStatus", description="短信状态 (SMS status)")
