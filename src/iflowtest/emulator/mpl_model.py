"""The entity sets of the tenant's monitoring API (`/api/v1`), as SAP's EDMX declares them for clients.

`MessageProcessingLogs` and the sets its navigation properties lead to (error information, adapter
attributes, attachments, custom header properties, message store entries, runs with their steps and trace
messages), the data store entries, and the JMS broker with its queue states and messages. Field order
follows real answers where one is known (cpi-facts section 5); the trace, data store and JMS fields follow
the public clients that read them (figaf/cpi-api), and which JMS form a tenant offers is UNCONFIRMED.
"""

from __future__ import annotations

from typing import Final

from iflowtest.emulator.odata import ComplexType, EntitySet, Navigation, Property, ServiceModel

# The namespace of every OData API under /api/v1 (message logs, runtime artifacts, service endpoints).
API_NAMESPACE: Final = "com.sap.hci.api"


def _string(name: str, max_length: int | None = None) -> Property:
    return Property(name, "Edm.String", max_length)


def _to_log(name: str) -> Navigation:
    # Child rows carry their message's MessageGuid, declared or not, so navigation joins on it both ways.
    return Navigation(name, "MessageProcessingLogs", (("MessageGuid", "MessageGuid"),), many=False)


def _children(name: str, target: str, *, many: bool = True) -> Navigation:
    return Navigation(name, target, (("MessageGuid", "MessageGuid"),), many=many)


# The entity sets, types and property order of SAP's MessageProcessingLogs API (its EDMX as public clients
# import it; the field order of the MessageProcessingLog follows a real answer, cpi-facts section 5).
MPL_MODEL: Final = ServiceModel(
    namespace=API_NAMESPACE,
    container="MessageProcessingLogs",
    complex_types=(
        ComplexType(
            "IntegrationArtifact",
            (_string("Id"), _string("Name"), _string("Type"), _string("PackageId"), _string("PackageName")),
        ),
    ),
    entity_sets=(
        EntitySet(
            name="MessageProcessingLogs",
            entity_type="MessageProcessingLog",
            keys=("MessageGuid",),
            properties=(
                Property("MessageGuid", "Edm.String", 28, nullable=False),
                _string("CorrelationId", 28),
                _string("ApplicationMessageId"),
                _string("PredecessorMessageGuid"),
                _string("ApplicationMessageType"),
                Property("LogStart", "Edm.DateTime"),
                Property("LogEnd", "Edm.DateTime"),
                _string("Sender"),
                _string("Receiver"),
                _string("IntegrationFlowName"),
                _string("Status"),
                _string("AlternateWebLink"),
                Property("IntegrationArtifact", f"{API_NAMESPACE}.IntegrationArtifact", nullable=False),
                _string("LogLevel"),
                _string("CustomStatus"),
                _string("ArchivingStatus"),
                Property("ArchivingSenderChannelMessages", "Edm.Boolean"),
                Property("ArchivingReceiverChannelMessages", "Edm.Boolean"),
                Property("ArchivingLogAttachments", "Edm.Boolean"),
                Property("ArchivingPersistedMessages", "Edm.Boolean"),
                _string("TransactionId"),
                _string("PreviousComponentName"),
                _string("LocalComponentName"),
                _string("OriginComponentName"),
            ),
            navigations=(
                _children("CustomHeaderProperties", "MessageProcessingLogCustomHeaderProperties"),
                _children("MessageStoreEntries", "MessageStoreEntries"),
                _children("ErrorInformation", "MessageProcessingLogErrorInformations", many=False),
                _children("AdapterAttributes", "MessageProcessingLogAdapterAttributes"),
                _children("Attachments", "MessageProcessingLogAttachments"),
                _children("Runs", "MessageProcessingLogRuns"),
            ),
        ),
        EntitySet(
            name="MessageProcessingLogErrorInformations",
            entity_type="MessageProcessingLogErrorInformation",
            keys=("MessageGuid",),
            properties=(Property("MessageGuid", nullable=False), _string("Type"), _string("LastErrorModelStepId")),
            has_stream=True,
        ),
        EntitySet(
            name="MessageProcessingLogAdapterAttributes",
            entity_type="MessageProcessingLogAdapterAttribute",
            keys=("Id",),
            properties=(
                Property("Id", nullable=False),
                _string("AdapterId"),
                _string("AdapterMessageId"),
                _string("Name"),
                _string("Value"),
            ),
            navigations=(_to_log("MessageProcessingLog"),),
        ),
        EntitySet(
            name="MessageProcessingLogAttachments",
            entity_type="MessageProcessingLogAttachment",
            keys=("Id",),
            properties=(
                Property("Id", nullable=False),
                _string("MessageGuid"),
                Property("TimeStamp", "Edm.DateTime"),
                _string("Name"),
                _string("ContentType"),
                Property("PayloadSize", "Edm.Int64"),
            ),
            has_stream=True,
        ),
        EntitySet(
            name="MessageProcessingLogCustomHeaderProperties",
            entity_type="MessageProcessingLogCustomHeaderProperty",
            keys=("Id",),
            properties=(Property("Id", nullable=False), _string("Name"), _string("Value")),
            navigations=(_to_log("Log"),),
        ),
        EntitySet(
            name="MessageStoreEntries",
            entity_type="MessageStoreEntry",
            keys=("Id",),
            properties=(
                Property("Id", nullable=False),
                _string("MessageGuid"),
                _string("MessageStoreId"),
                Property("TimeStamp", "Edm.DateTime"),
                Property("HasAttachments", "Edm.Boolean"),
            ),
            has_stream=True,
        ),
        EntitySet(
            name="MessageProcessingLogRuns",
            entity_type="MessageProcessingLogRun",
            keys=("Id",),
            properties=(
                Property("Id", nullable=False),
                Property("RunStart", "Edm.DateTime"),
                Property("RunStop", "Edm.DateTime"),
                _string("LogLevel"),
                _string("OverallState"),
                _string("ProcessId"),
            ),
            navigations=(Navigation("RunSteps", "MessageProcessingLogRunSteps", (("Id", "RunId"),)),),
        ),
        EntitySet(
            name="MessageProcessingLogRunSteps",
            entity_type="MessageProcessingLogRunStep",
            keys=("RunId", "ChildCount"),
            properties=(
                Property("RunId", nullable=False),
                Property("ChildCount", "Edm.Int32", nullable=False),
                Property("StepStart", "Edm.DateTime"),
                Property("StepStop", "Edm.DateTime"),
                _string("StepId"),
                _string("ModelStepId"),
                _string("BranchId"),
                _string("Status"),
                _string("Error"),
                _string("Activity"),
            ),
            navigations=(
                Navigation("TraceMessages", "TraceMessages", (("RunId", "RunId"), ("ChildCount", "ChildCount"))),
            ),
        ),
        EntitySet(
            name="TraceMessages",
            entity_type="TraceMessage",
            keys=("TraceId",),
            properties=(
                Property("TraceId", "Edm.Int64", nullable=False),
                _string("MplId"),
                _string("RunId"),
                Property("ChildCount", "Edm.Int32"),
                _string("ModelStepId"),
                Property("PayloadSize", "Edm.Int64"),
                _string("MimeType"),
                Property("ProcessingDate", "Edm.DateTime"),
            ),
            has_stream=True,
        ),
        EntitySet(
            name="DataStoreEntries",
            entity_type="DataStoreEntry",
            keys=("Id", "DataStoreName", "IntegrationFlow", "Type"),
            properties=(
                Property("Id", nullable=False),
                Property("DataStoreName", nullable=False),
                Property("IntegrationFlow", nullable=False),
                Property("Type", nullable=False),
                _string("Status"),
                _string("MessageId"),
                Property("DueAt", "Edm.DateTime"),
                Property("CreatedAt", "Edm.DateTime"),
                Property("RetainUntil", "Edm.DateTime"),
            ),
            has_stream=True,
        ),
        EntitySet(
            name="JmsBrokers",
            entity_type="JmsBroker",
            keys=("Key",),
            properties=(
                Property("Key", nullable=False),
                Property("Capacity", "Edm.Int64"),
                Property("MaxCapacity", "Edm.Int64"),
                Property("QueueNumber", "Edm.Int32"),
                Property("MaxQueueNumber", "Edm.Int32"),
            ),
            navigations=(Navigation("QueueStates", "QueueStates", (("Key", "Broker"),)),),
        ),
        EntitySet(
            name="QueueStates",
            entity_type="QueueState",
            keys=("Name",),
            properties=(Property("Name", nullable=False), _string("Broker"), Property("State", "Edm.Int32")),
        ),
        EntitySet(
            name="JmsMessages",
            entity_type="JmsMessage",
            keys=("Id",),
            properties=(
                Property("Id", nullable=False),
                _string("Name"),
                _string("MessageId"),
                Property("Failed", "Edm.Boolean"),
                Property("RetryCount", "Edm.Int32"),
                Property("NextRetry", "Edm.DateTime"),
                Property("CreatedAt", "Edm.DateTime"),
            ),
        ),
    ),
)
