//! Names from the OpenTelemetry semantic-conventions registry (`open-telemetry/semantic-conventions`,
//! `docs/registry/attributes/`): the FaaS, cloud and service names of the resource and the
//! invocation span, the HTTP and messaging attributes the event sources add, and the `exception`
//! event. Each constant is named after its key.

names! {
    /// The resource's names.
    RESOURCE_ATTRIBUTES {
        /// `service.name`.
        SERVICE_NAME = "service.name",
        /// `cloud.provider` (`aws`).
        CLOUD_PROVIDER = "cloud.provider",
        /// `cloud.platform` (`aws_lambda`).
        CLOUD_PLATFORM = "cloud.platform",
        /// `cloud.region`.
        CLOUD_REGION = "cloud.region",
        /// `faas.name`: the function's name.
        FAAS_NAME = "faas.name",
        /// `faas.version`: the function's version.
        FAAS_VERSION = "faas.version",
        /// `faas.max_memory`: the function's memory, in bytes.
        FAAS_MAX_MEMORY = "faas.max_memory",
        /// `faas.instance`: the execution environment (its log stream name).
        FAAS_INSTANCE = "faas.instance",
        /// `service.instance.id`: the execution environment too, so that backends that key metric
        /// series by service instance keep environments apart.
        SERVICE_INSTANCE_ID = "service.instance.id",
    }
}

names! {
    /// Span attribute names: the invocation span's own, then those of HTTP, messaging and
    /// data-source events.
    SPAN_ATTRIBUTES {
        /// `faas.invocation_id`: the request id.
        FAAS_INVOCATION_ID = "faas.invocation_id",
        /// `faas.trigger`: what kind of event started the invocation.
        FAAS_TRIGGER = "faas.trigger",
        /// `faas.coldstart`: the invocation's environment was initialised for it.
        FAAS_COLDSTART = "faas.coldstart",
        /// `aws.lambda.invoked_arn`: the ARN the function was invoked by, qualifier included.
        AWS_LAMBDA_INVOKED_ARN = "aws.lambda.invoked_arn",
        /// `cloud.resource_id`: the function's ARN, qualified by the version that ran.
        CLOUD_RESOURCE_ID = "cloud.resource_id",
        /// `cloud.account.id`: on the span always, and on the resource too when registration
        /// told it (the resource is built before any invocation; one name, listed here once).
        CLOUD_ACCOUNT_ID = "cloud.account.id",
        /// `faas.document.collection`: the S3 bucket, the DynamoDB table.
        FAAS_DOCUMENT_COLLECTION = "faas.document.collection",
        /// `faas.document.operation`: `insert`, `edit` or `delete`.
        FAAS_DOCUMENT_OPERATION = "faas.document.operation",
        /// `faas.document.time`: when the data changed (ISO 8601, UTC).
        FAAS_DOCUMENT_TIME = "faas.document.time",
        /// `faas.document.name`: the S3 object's key.
        FAAS_DOCUMENT_NAME = "faas.document.name",
        /// `faas.time`: when a schedule fired (ISO 8601, UTC).
        FAAS_TIME = "faas.time",
        /// `error.type`: why the invocation (or the init phase) failed.
        ERROR_TYPE = "error.type",
        /// `http.request.method`.
        HTTP_REQUEST_METHOD = "http.request.method",
        /// `http.request.method_original`: a method OpenTelemetry does not know.
        HTTP_REQUEST_METHOD_ORIGINAL = "http.request.method_original",
        /// `http.route`.
        HTTP_ROUTE = "http.route",
        /// `http.response.status_code`.
        HTTP_RESPONSE_STATUS_CODE = "http.response.status_code",
        /// `url.path`.
        URL_PATH = "url.path",
        /// `url.query`.
        URL_QUERY = "url.query",
        /// `url.scheme`.
        URL_SCHEME = "url.scheme",
        /// `user_agent.original`.
        USER_AGENT_ORIGINAL = "user_agent.original",
        /// `client.address`.
        CLIENT_ADDRESS = "client.address",
        /// `server.address`.
        SERVER_ADDRESS = "server.address",
        /// `server.port`.
        SERVER_PORT = "server.port",
        /// `network.protocol.version`.
        NETWORK_PROTOCOL_VERSION = "network.protocol.version",
        /// `messaging.system`.
        MESSAGING_SYSTEM = "messaging.system",
        /// `messaging.destination.name`: the queue, topic or stream.
        MESSAGING_DESTINATION_NAME = "messaging.destination.name",
        /// `messaging.operation.name` (`process`): a batch invocation's operation.
        MESSAGING_OPERATION_NAME = "messaging.operation.name",
        /// `messaging.operation.type` (`process`).
        MESSAGING_OPERATION_TYPE = "messaging.operation.type",
        /// `messaging.message.id`.
        MESSAGING_MESSAGE_ID = "messaging.message.id",
        /// `messaging.batch.message_count`.
        MESSAGING_BATCH_MESSAGE_COUNT = "messaging.batch.message_count",
        /// `aws.sns.topic.arn`.
        AWS_SNS_TOPIC_ARN = "aws.sns.topic.arn",
        /// `aws.kinesis.stream_name`.
        AWS_KINESIS_STREAM_NAME = "aws.kinesis.stream_name",
        /// `aws.dynamodb.table_names`.
        AWS_DYNAMODB_TABLE_NAMES = "aws.dynamodb.table_names",
        /// `aws.s3.bucket`.
        AWS_S3_BUCKET = "aws.s3.bucket",
        /// `aws.s3.key`.
        AWS_S3_KEY = "aws.s3.key",
    }
}

names! {
    /// Attribute names of the `exception` event.
    EXCEPTION_ATTRIBUTES {
        /// `exception.type`.
        EXCEPTION_TYPE = "exception.type",
        /// `exception.message`.
        EXCEPTION_MESSAGE = "exception.message",
        /// `exception.stacktrace`.
        EXCEPTION_STACKTRACE = "exception.stacktrace",
    }
}

names! {
    /// Span event names.
    SPAN_EVENT_NAMES {
        /// The event recording an error on the span.
        EXCEPTION_EVENT = "exception",
    }
}
