import Foundation
import SlipwayDomain

/// One operation of the REST API as the OpenAPI document describes it.
struct APIOperation: Sendable {
    var method: String
    /// Path relative to `/api/v1`, with `{parameter}` segments.
    var path: String
    var summary: String
    var tag: String
    /// Schema name of the JSON request body, if any.
    var request: String?
    /// Status and schema name (`nil` for no body) of the successful response.
    var success: (status: Int, schema: String?)
    /// Whether the caller must authenticate.
    var authenticated = true
    /// Query parameters.
    var query: [QueryParameter] = []
    /// Whether the request body is raw bytes rather than JSON.
    var rawBody = false
    /// Whether the JSON request body may be left out.
    var optionalBody = false
    /// Whether the response is raw bytes or text rather than JSON.
    var binaryResponse = false
}

/// A query parameter of an operation.
struct QueryParameter: Sendable {
    enum Kind: Sendable {
        case integer(minimum: Int, maximum: Int?)
        case string
        case enumeration([String])
    }

    var name: String
    var description: String
    var kind: Kind

    init(name: String, description: String, kind: Kind) {
        self.name = name
        self.description = description
        self.kind = kind
    }

    init(name: String, description: String, minimum: Int, maximum: Int?) {
        self.init(name: name, description: description, kind: .integer(minimum: minimum, maximum: maximum))
    }

    var schema: [String: Any] {
        switch kind {
        case .integer(let minimum, let maximum):
            var schema: [String: Any] = ["type": "integer", "minimum": minimum]
            if let maximum { schema["maximum"] = maximum }
            return schema
        case .string:
            return ["type": "string", "maxLength": 200]
        case .enumeration(let values):
            return ["type": "string", "enum": values]
        }
    }
}

/// The OpenAPI 3.1 document served at `/api/v1/openapi.json`.
///
/// A test compares it with the routes the router actually has, so neither can drift from the other.
enum OpenAPIDocument {
    static let operations: [APIOperation] = [
        .init(
            method: "post", path: "/auth/token", summary: "Exchange a username and password for a new API token", tag: "identity",
            request: "PasswordTokenRequest", success: (201, "IssuedAPIToken"), authenticated: false),
        .init(method: "get", path: "/me", summary: "The calling user", tag: "identity", success: (200, "User")),
        .init(
            method: "post", path: "/me/password", summary: "Change the caller's password", tag: "identity",
            request: "ChangePasswordRequest", success: (200, "User")),
        .init(method: "get", path: "/users", summary: "List users (administrators)", tag: "users", success: (200, "UserList")),
        .init(
            method: "post", path: "/users", summary: "Create a user (administrators)", tag: "users",
            request: "CreateUserRequest", success: (201, "User")),
        .init(method: "get", path: "/users/{username}", summary: "A user (administrators, or the user)", tag: "users", success: (200, "User")),
        .init(
            method: "patch", path: "/users/{username}", summary: "Change a user: name, e-mail, password, admin, disabled (administrators)",
            tag: "users", request: "UpdateUserRequest", success: (200, "User")),
        .init(method: "get", path: "/tokens", summary: "The caller's API tokens", tag: "tokens", success: (200, "APITokenList")),
        .init(
            method: "post", path: "/tokens", summary: "Create an API token; its secret is returned only here", tag: "tokens",
            request: "CreateTokenRequest", success: (201, "IssuedAPIToken")),
        .init(method: "delete", path: "/tokens/{id}", summary: "Revoke an API token", tag: "tokens", success: (200, "APIToken")),
        .init(
            method: "get", path: "/namespaces", summary: "Namespaces the caller belongs to (all, for administrators)", tag: "namespaces",
            success: (200, "NamespaceListingList")),
        .init(
            method: "post", path: "/namespaces", summary: "Create a namespace; the caller becomes its owner", tag: "namespaces",
            request: "CreateNamespaceRequest", success: (201, "Namespace")),
        .init(
            method: "get", path: "/namespaces/{namespace}", summary: "A namespace and the caller's role in it (viewer)", tag: "namespaces",
            success: (200, "NamespaceListing")),
        .init(
            method: "patch", path: "/namespaces/{namespace}", summary: "Change a namespace's title or description (maintainer)",
            tag: "namespaces", request: "UpdateNamespaceRequest", success: (200, "Namespace")),
        .init(
            method: "delete", path: "/namespaces/{namespace}", summary: "Delete an empty namespace (owner)", tag: "namespaces",
            success: (204, nil)),
        .init(
            method: "get", path: "/namespaces/{namespace}/members", summary: "Members and their roles (viewer)", tag: "namespaces",
            success: (200, "MembershipList")),
        .init(
            method: "put", path: "/namespaces/{namespace}/members/{username}",
            summary: "Add a member or change a role (maintainer for developers and viewers, owner for all)", tag: "namespaces",
            request: "SetMemberRequest", success: (200, "Membership")),
        .init(
            method: "delete", path: "/namespaces/{namespace}/members/{username}",
            summary: "Remove a member (as for adding), or leave the namespace yourself", tag: "namespaces", success: (204, nil)),
        .init(
            method: "get", path: "/namespaces/{namespace}/quota", summary: "The namespace's compute quota (viewer)", tag: "namespaces",
            success: (200, "Quota")),
        .init(
            method: "put", path: "/namespaces/{namespace}/quota", summary: "Set the compute quota; null means unlimited (administrators)",
            tag: "namespaces", request: "Quota", success: (200, "Quota")),
        .init(
            method: "get", path: "/namespaces/{namespace}/audit", summary: "The namespace's audit log, newest first (owner)",
            tag: "audit", success: (200, "AuditPage"), query: auditQuery),
        .init(
            method: "get", path: "/audit", summary: "Every audit event, newest first (administrators)", tag: "audit",
            success: (200, "AuditPage"), query: auditQuery),
        .init(
            method: "get", path: "/namespaces/{namespace}/projects", summary: "Projects of a namespace (viewer)", tag: "projects",
            success: (200, "ProjectList")),
        .init(
            method: "post", path: "/namespaces/{namespace}/projects", summary: "Create a project (developer)", tag: "projects",
            request: "CreateProjectRequest", success: (201, "Project")),
        .init(
            method: "get", path: "/namespaces/{namespace}/projects/{project}", summary: "A project (viewer)", tag: "projects",
            success: (200, "Project")),
        .init(
            method: "patch", path: "/namespaces/{namespace}/projects/{project}", summary: "Change a project's description (developer)",
            tag: "projects", request: "UpdateProjectRequest", success: (200, "Project")),
        .init(
            method: "delete", path: "/namespaces/{namespace}/projects/{project}", summary: "Delete a project (maintainer)",
            tag: "projects", success: (204, nil)),
        .init(
            method: "get", path: "/namespaces/{namespace}/projects/{project}/members",
            summary: "The project's members: with the namespace's maintainers and owners, they see its private datasets (viewer)",
            tag: "projects", success: (200, "ProjectMemberList")),
        .init(
            method: "put", path: "/namespaces/{namespace}/projects/{project}/members/{username}",
            summary: "Add a namespace member to the project or change their role: viewer, developer or maintainer (project or namespace maintainer)",
            tag: "projects", request: "SetMemberRequest", success: (200, "ProjectMember")),
        .init(
            method: "delete", path: "/namespaces/{namespace}/projects/{project}/members/{username}",
            summary: "Remove a project member (as for adding), or leave the project yourself", tag: "projects", success: (204, nil)),
        .init(
            method: "post", path: "/namespaces/{namespace}/blobs/check", summary: "Which of these blobs must still be uploaded (viewer)",
            tag: "data", request: "BlobCheckRequest", success: (200, "BlobCheckResponse")),
        .init(
            method: "put", path: "/namespaces/{namespace}/blobs/{digest}",
            summary: "Upload a blob: the raw bytes, which must hash to the SHA-256 in the path (developer)", tag: "data",
            success: (201, "BlobReceipt"), rawBody: true),
        .init(
            method: "get", path: "/namespaces/{namespace}/blobs/{digest}", summary: "Download a blob the namespace holds (viewer)",
            tag: "data", success: (200, nil), binaryResponse: true),
        .init(
            method: "get", path: "/datasets",
            summary:
                "Datasets the caller may read across namespaces (public ones, their namespaces' and their projects' private ones), optionally matching ?search=",
            tag: "data", success: (200, "DatasetListingList"),
            query: [QueryParameter(name: "search", description: "Text in the name or description", kind: .string)]),
        .init(
            method: "get", path: "/namespaces/{namespace}/projects/{project}/datasets", summary: "A project's datasets (viewer)",
            tag: "data", success: (200, "DatasetList")),
        .init(
            method: "post", path: "/namespaces/{namespace}/projects/{project}/datasets", summary: "Create a dataset (developer)",
            tag: "data", request: "CreateDatasetRequest", success: (201, "Dataset")),
        .init(
            method: "get", path: "/namespaces/{namespace}/projects/{project}/datasets/{dataset}",
            summary:
                "A dataset (anyone for public datasets, namespace viewers for namespace ones, project members and namespace maintainers for private ones)",
            tag: "data", success: (200, "Dataset")),
        .init(
            method: "get", path: "/namespaces/{namespace}/projects/{project}/datasets/{dataset}/versions",
            summary: "A dataset's versions, newest first", tag: "data", success: (200, "DatasetVersionList")),
        .init(
            method: "post", path: "/namespaces/{namespace}/projects/{project}/datasets/{dataset}/versions",
            summary: "Import an uploaded CSV, JSON Lines, image-folder zip or tar(.gz) file as the next version (developer)", tag: "data",
            request: "CreateVersionRequest", success: (201, "VersionDetail")),
        .init(
            method: "get", path: "/namespaces/{namespace}/projects/{project}/datasets/{dataset}/versions/{version}",
            summary: "A version (a number or 'latest') with its schema, statistics and shards", tag: "data", success: (200, "VersionDetail")),
        .init(
            method: "get", path: "/namespaces/{namespace}/projects/{project}/datasets/{dataset}/versions/{version}/records",
            summary: "A page of a version's records", tag: "data", success: (200, "RecordPage"),
            query: [
                QueryParameter(name: "offset", description: "Records to skip", minimum: 0, maximum: nil),
                QueryParameter(name: "limit", description: "At most this many, 1 to 1000 (default 100)", minimum: 1, maximum: 1000),
            ]),
        .init(
            method: "get", path: "/namespaces/{namespace}/projects/{project}/datasets/{dataset}/versions/{version}/export",
            summary: "The whole version as CSV or JSON Lines, streamed", tag: "data", success: (200, nil),
            query: [QueryParameter(name: "format", description: "csv or jsonl (default)", kind: .enumeration(["csv", "jsonl"]))],
            binaryResponse: true),
        .init(
            method: "get", path: "/namespaces/{namespace}/projects/{project}/datasets/{dataset}/versions/{version}/lineage",
            summary: "The runs that used the version (run inputs of source type 'slipway') and the model versions registered from them",
            tag: "data", success: (200, "DatasetLineage")),
        .init(
            method: "get", path: "/namespaces/{namespace}/projects/{project}/datasets/{dataset}/diff",
            summary: "Records added, removed and changed between two versions, and the labels before and after", tag: "data",
            success: (200, "VersionDiff"),
            query: [
                QueryParameter(name: "from", description: "The older version: a number or 'latest'", kind: .string),
                QueryParameter(name: "to", description: "The newer version: a number or 'latest'", kind: .string),
            ]),
        .init(
            method: "put", path: "/namespaces/{namespace}/projects/{project}/datasets/{dataset}/versions/{version}/state",
            summary: "Move a version forward: deprecated, archived or deleted (maintainer)", tag: "data", request: "VersionStateRequest",
            success: (200, "DatasetVersion")),
        .init(
            method: "patch", path: "/namespaces/{namespace}/projects/{project}/datasets/{dataset}",
            summary: "Change a dataset's description (developer) or visibility (maintainer of the dataset)", tag: "data",
            request: "UpdateDatasetRequest", success: (200, "Dataset")),
        .init(
            method: "delete", path: "/namespaces/{namespace}/projects/{project}/datasets/{dataset}",
            summary: "Delete a dataset and all its versions (maintainer)", tag: "data", success: (204, nil)),
        .init(
            method: "post", path: "/namespaces/{namespace}/projects/{project}/datasets/{dataset}/draft",
            summary: "Open the dataset's draft from a version (default: the latest) or empty (developer)", tag: "data",
            request: "CreateDraftRequest", success: (201, "DatasetDraft")),
        .init(
            method: "get", path: "/namespaces/{namespace}/projects/{project}/datasets/{dataset}/draft",
            summary: "The dataset's draft and what changed in it", tag: "data", success: (200, "DatasetDraft")),
        .init(
            method: "delete", path: "/namespaces/{namespace}/projects/{project}/datasets/{dataset}/draft", summary: "Discard the draft (developer)",
            tag: "data", success: (204, nil)),
        .init(
            method: "get", path: "/namespaces/{namespace}/projects/{project}/datasets/{dataset}/draft/records",
            summary: "A page of the draft's records", tag: "data", success: (200, "RecordPage"),
            query: [
                QueryParameter(name: "offset", description: "Records to skip", minimum: 0, maximum: nil),
                QueryParameter(name: "limit", description: "At most this many, 1 to 1000 (default 100)", minimum: 1, maximum: 1000),
            ]),
        .init(
            method: "get", path: "/namespaces/{namespace}/projects/{project}/datasets/{dataset}/draft/records/{record}",
            summary: "One record of the draft (its id percent-encoded)", tag: "data",
            success: (200, "DatasetRecord")),
        .init(
            method: "put", path: "/namespaces/{namespace}/projects/{project}/datasets/{dataset}/draft/records/{record}",
            summary: "Add a record to the draft, or replace it (developer)", tag: "data",
            request: "DatasetRecord", success: (200, "DatasetRecord")),
        .init(
            method: "delete", path: "/namespaces/{namespace}/projects/{project}/datasets/{dataset}/draft/records/{record}",
            summary: "Take a record out of the draft (developer)", tag: "data",
            success: (204, nil)),
        .init(
            method: "put", path: "/namespaces/{namespace}/projects/{project}/datasets/{dataset}/draft/records/{record}/annotations",
            summary: "Replace a record's labels (developer)", tag: "data",
            request: "AnnotationsRequest", success: (200, "DatasetRecord")),
        .init(
            method: "post", path: "/namespaces/{namespace}/projects/{project}/datasets/{dataset}/draft/import",
            summary: "Import an uploaded file into the draft, adding or replacing records (developer)",
            tag: "data", request: "ImportSource", success: (200, "DraftImportReport")),
        .init(
            method: "post", path: "/namespaces/{namespace}/projects/{project}/datasets/{dataset}/draft/commit",
            summary: "Commit the draft as the next immutable version (developer)", tag: "data",
            request: "CommitDraftRequest", success: (201, "VersionDetail")),
        .init(
            method: "get", path: "/namespaces/{namespace}/projects/{project}/experiments",
            summary: "The project's experiments (created through the MLflow API)", tag: "tracking", success: (200, "ExperimentList")),
        .init(
            method: "get", path: "/namespaces/{namespace}/projects/{project}/models", summary: "The project's registered models",
            tag: "tracking", success: (200, "ModelList")),
        .init(
            method: "get", path: "/experiments/{experiment}", summary: "An experiment and where it lives", tag: "tracking",
            success: (200, "ExperimentSummary")),
        .init(
            method: "get", path: "/experiments/{experiment}/runs",
            summary: "The experiment's runs, filtered and ordered with MLflow's search grammar, a page at a time", tag: "tracking",
            success: (200, "RunList"),
            query: [
                QueryParameter(name: "filter", description: "MLflow filter: metrics.acc > 0.9 and params.lr = '0.1'", kind: .string),
                QueryParameter(name: "order_by", description: "Comma-separated clauses: metrics.acc DESC, start_time", kind: .string),
                QueryParameter(
                    name: "view", description: "Which runs: active_only (default), deleted_only or all",
                    kind: .enumeration(["active_only", "deleted_only", "all"])),
                QueryParameter(name: "max_results", description: "At most this many, 1 to 1000 (default 100)", minimum: 1, maximum: 1000),
                QueryParameter(name: "page_token", description: "The next_page_token of the previous page", kind: .string),
            ]),
        .init(
            method: "get", path: "/runs/{run}",
            summary: "A run with params, metrics, tags, and its lineage: dataset versions, code, child runs, logged models, model versions",
            tag: "tracking", success: (200, "RunView")),
        .init(
            method: "get", path: "/runs/{run}/metrics", summary: "Every point logged for one of the run's metrics", tag: "tracking",
            success: (200, "MetricHistory"),
            query: [QueryParameter(name: "key", description: "The metric's name", kind: .string)]),
        .init(
            method: "get", path: "/runs/{run}/artifacts", summary: "The files and folders directly inside one of the run's artifact folders",
            tag: "tracking", success: (200, "ArtifactListing"),
            query: [QueryParameter(name: "path", description: "The folder, relative to the run's artifact root (default: the root)", kind: .string)]),
        .init(
            method: "get", path: "/runs/{run}/artifacts/content", summary: "One artifact file's bytes", tag: "tracking", success: (200, nil),
            query: [QueryParameter(name: "path", description: "The file, relative to the run's artifact root", kind: .string)],
            binaryResponse: true),
        .init(
            method: "get", path: "/models", summary: "Registered models the caller may see, across namespaces", tag: "tracking",
            success: (200, "ModelList"),
            query: [QueryParameter(name: "search", description: "Text in the name or description", kind: .string)]),
        .init(
            method: "get", path: "/models/{model}", summary: "A registered model with its versions", tag: "tracking",
            success: (200, "ModelView")),
        .init(
            method: "get", path: "/models/{model}/versions/{version}",
            summary: "A model version with its lineage: the run it came from and the dataset versions that run used", tag: "tracking",
            success: (200, "ModelVersionView")),
        .init(
            method: "post", path: "/namespaces/{namespace}/projects/{project}/jobs",
            summary: "Submit a job: a command with resources, an optional cached Python environment, a priority and a maximum runtime (developer)",
            tag: "compute", request: "JobSpec", success: (201, "Job")),
        .init(
            method: "get", path: "/namespaces/{namespace}/projects/{project}/jobs", summary: "The project's jobs, newest first", tag: "compute",
            success: (200, "JobList")),
        .init(
            method: "get", path: "/jobs", summary: "Jobs in the caller's namespaces, newest first", tag: "compute", success: (200, "JobList"),
            query: [
                QueryParameter(
                    name: "state", description: "Only jobs in this state",
                    kind: .enumeration(["queued", "scheduled", "preparing", "running", "succeeded", "failed", "cancelled", "lost"]))
            ]),
        .init(method: "get", path: "/jobs/{job}", summary: "A job with its state history", tag: "compute", success: (200, "JobDetail")),
        .init(
            method: "get", path: "/jobs/{job}/logs", summary: "The job's log as text; follow=true streams it until the job ends",
            tag: "compute", success: (200, nil),
            query: [
                QueryParameter(name: "offset", description: "Start at this character of the log", minimum: 0, maximum: nil),
                QueryParameter(name: "tail", description: "Only the last this many characters", minimum: 0, maximum: nil),
                QueryParameter(name: "follow", description: "Keep streaming while the job runs", kind: .enumeration(["true", "false"])),
            ], binaryResponse: true),
        .init(
            method: "post", path: "/jobs/{job}/cancel", summary: "Cancel a job; a running one is stopped with its whole process tree (developer)",
            tag: "compute", success: (200, "Job")),
        .init(method: "get", path: "/nodes", summary: "Nodes with capacity, usage and state", tag: "compute", success: (200, "NodeList")),
        .init(
            method: "post", path: "/nodes/{node}/cordon", summary: "Place no new jobs on the node (administrators)", tag: "compute",
            success: (200, "Node")),
        .init(
            method: "post", path: "/nodes/{node}/drain", summary: "Cordon the node and re-queue its jobs (administrators)", tag: "compute",
            success: (200, "Node")),
        .init(
            method: "post", path: "/nodes/{node}/uncordon", summary: "Let the node take jobs again (administrators)", tag: "compute",
            success: (200, "Node")),
        .init(
            method: "get", path: "/admin/join-tokens", summary: "Join tokens for agents (administrators)", tag: "compute",
            success: (200, "JoinTokenList")),
        .init(
            method: "post", path: "/admin/join-tokens", summary: "Create a join token; its secret is shown once (administrators)",
            tag: "compute", request: "CreateJoinTokenRequest", success: (201, "IssuedJoinToken")),
        .init(
            method: "delete", path: "/admin/join-tokens/{id}", summary: "Revoke a join token (administrators)", tag: "compute",
            success: (204, nil)),
        .init(
            method: "post", path: "/agents/register", summary: "An agent registers its node with a join token and gets an agent token",
            tag: "agents", request: "AgentRegistration", success: (200, "AgentCredentials"), authenticated: false),
        .init(
            method: "post", path: "/agents/heartbeat", summary: "An agent reports its usage and running jobs; the answer says what to start and stop",
            tag: "agents", request: "AgentHeartbeat", success: (200, "AgentInstructions")),
        .init(
            method: "post", path: "/agents/jobs/{job}/state", summary: "An agent reports a job's progress (409 stale_report for an old attempt)",
            tag: "agents", request: "JobStateReport", success: (200, "Job")),
        .init(
            method: "post", path: "/agents/jobs/{job}/logs", summary: "An agent appends text to a job's log", tag: "agents", success: (204, nil),
            rawBody: true),
        .init(
            method: "post", path: "/namespaces/{namespace}/projects/{project}/deployments",
            summary: "Deploy registered model versions as an online service (developer; production needs maintainer and approved versions)",
            tag: "serving", request: "CreateDeploymentRequest", success: (201, "DeploymentDetail")),
        .init(
            method: "get", path: "/namespaces/{namespace}/projects/{project}/deployments", summary: "The project's deployments", tag: "serving",
            success: (200, "DeploymentList")),
        .init(method: "get", path: "/deployments", summary: "Deployments in the caller's namespaces", tag: "serving", success: (200, "DeploymentList")),
        .init(
            method: "get", path: "/deployments/{deployment}", summary: "A deployment with its revisions and replicas", tag: "serving",
            success: (200, "DeploymentDetail")),
        .init(
            method: "patch", path: "/deployments/{deployment}",
            summary: "Change what it runs (a new revision rolls out beside the serving one) or its description and flags (developer)",
            tag: "serving", request: "UpdateDeploymentRequest", success: (200, "DeploymentDetail")),
        .init(
            method: "post", path: "/deployments/{deployment}/scale", summary: "Set the fewest and most replicas per model version (developer)",
            tag: "serving", request: "ScaleDeploymentRequest", success: (200, "DeploymentDetail")),
        .init(
            method: "post", path: "/deployments/{deployment}/rollback",
            summary: "Make a new revision from the previous one (or the one named) and roll it out (developer)", tag: "serving",
            request: "RollbackDeploymentRequest", success: (200, "DeploymentDetail"), optionalBody: true),
        .init(
            method: "delete", path: "/deployments/{deployment}", summary: "Delete a deployment; its replicas stop (maintainer)", tag: "serving",
            success: (204, nil)),
        .init(
            method: "get", path: "/deployments/{deployment}/metrics",
            summary: "The gateway's recent figures: requests, errors, p50/p99 latency and batch sizes per version in 5-second buckets",
            tag: "serving", success: (200, "DeploymentMetrics"),
            query: [QueryParameter(name: "seconds", description: "How far back, 10 to 360 seconds (default 300)", minimum: 10, maximum: 360)]),
        .init(
            method: "get", path: "/agents/replicas/{replica}/files/{digest}", summary: "An agent downloads a file of the model a replica on its node serves",
            tag: "agents", success: (200, nil), binaryResponse: true),
        .init(
            method: "post", path: "/admin/gc", summary: "Delete blobs no live version references (administrators)", tag: "data",
            request: "GarbageCollectionRequest", success: (200, "GarbageCollectionReport"), optionalBody: true),
        .init(method: "get", path: "/openapi.json", summary: "This document", tag: "meta", success: (200, nil), authenticated: false),
    ]

    static let auditQuery = [
        QueryParameter(name: "limit", description: "At most this many events, 1 to 500 (default 50)", minimum: 1, maximum: 500),
        QueryParameter(name: "before", description: "Only events older than this event id (paging)", minimum: 0, maximum: nil),
    ]

    /// The document as JSON.
    static func json() -> Data {
        var paths: [String: [String: Any]] = [:]
        for operation in operations {
            var entry: [String: Any] = [
                "summary": operation.summary, "tags": [operation.tag],
                "operationId": operation.method
                    + operation.path.split(separator: "/").map {
                        $0.replacingOccurrences(of: "{", with: "By").replacingOccurrences(of: "}", with: "").replacingOccurrences(of: ".", with: "_")
                    }.map { $0.prefix(1).uppercased() + $0.dropFirst() }.joined(),
            ]
            var parameters: [[String: Any]] = operation.path.split(separator: "/").filter { $0.hasPrefix("{") }.map { segment in
                ["name": String(segment.dropFirst().dropLast()), "in": "path", "required": true, "schema": ["type": "string"]]
            }
            parameters += operation.query.map {
                ["name": $0.name, "in": "query", "required": false, "description": $0.description, "schema": $0.schema]
            }
            if !parameters.isEmpty { entry["parameters"] = parameters }
            if operation.rawBody {
                entry["requestBody"] = [
                    "required": true, "content": ["application/octet-stream": ["schema": ["type": "string", "format": "binary"]]],
                ]
            }
            if let request = operation.request {
                entry["requestBody"] = [
                    "required": !operation.optionalBody, "content": ["application/json": ["schema": ["$ref": "#/components/schemas/\(request)"]]],
                ]
            }
            var responses: [String: Any] = [:]
            var success: [String: Any] = ["description": "Success"]
            if let schema = operation.success.schema {
                success["content"] = ["application/json": ["schema": ["$ref": "#/components/schemas/\(schema)"]]]
            } else if operation.binaryResponse {
                success["content"] = ["application/octet-stream": ["schema": ["type": "string", "format": "binary"]]]
            } else if operation.success.status != 204 {
                success["content"] = ["application/json": ["schema": ["type": "object"]]]
            }
            responses[String(operation.success.status)] = success
            let error: [String: Any] = ["description": "Error", "content": ["application/json": ["schema": ["$ref": "#/components/schemas/Error"]]]]
            for status in operation.authenticated ? ["400", "401", "403", "404", "409", "413"] : ["400", "401"] {
                responses[status] = error
            }
            entry["responses"] = responses
            entry["security"] = operation.authenticated ? [["bearer": [String]()], ["session": [String]()]] : [[String: [String]]]()
            paths["/api/v1" + operation.path, default: [:]][operation.method] = entry
        }
        let document: [String: Any] = [
            "openapi": "3.1.0",
            "info": [
                "title": "Slipway API", "version": "1",
                "description":
                    "On-premise multi-tenant ML platform. Authenticate with 'Authorization: Bearer <token>'. Every error is {\"error\": {\"code\", \"message\"}}.",
            ],
            "servers": [["url": "/"]],
            "paths": paths,
            "components": [
                "schemas": schemas,
                "securitySchemes": [
                    "bearer": [
                        "type": "http", "scheme": "bearer", "description": "An API token (slw_…) from POST /api/v1/tokens or /api/v1/auth/token",
                    ],
                    "session": [
                        "type": "apiKey", "in": "cookie", "name": "slipway_session",
                        "description": "Web UI session; unsafe methods also need X-CSRF-Token",
                    ],
                ],
            ],
        ]
        return (try? JSONSerialization.data(withJSONObject: document, options: [.sortedKeys, .prettyPrinted])) ?? Data("{}".utf8)
    }

    private static func object(_ properties: [String: Any], required: [String]) -> [String: Any] {
        ["type": "object", "properties": properties, "required": required]
    }
    private static func list(_ item: String) -> [String: Any] {
        object(["items": ["type": "array", "items": ["$ref": "#/components/schemas/\(item)"]]], required: ["items"])
    }
    private static var string: [String: Any] { ["type": "string"] }
    private static var stringMap: [String: Any] { ["type": "object", "additionalProperties": ["type": "string"]] }
    /// A metric value: a number, or "NaN", "Infinity", "-Infinity".
    private static var metricValue: [String: Any] { ["oneOf": [["type": "number"], ["type": "string", "enum": ["NaN", "Infinity", "-Infinity"]]]] }
    private static var name: [String: Any] { ["type": "string", "pattern": "^[a-z0-9][a-z0-9-]{0,62}$"] }
    private static var time: [String: Any] { ["type": "string", "format": "date-time"] }
    private static var uuid: [String: Any] { ["type": "string", "format": "uuid"] }
    private static var bool: [String: Any] { ["type": "boolean"] }
    private static var sha256: [String: Any] { ["type": "string", "pattern": "^[0-9a-f]{64}$"] }
    private static var taskType: [String: Any] {
        [
            "type": "string",
            "enum": ["image_classification", "object_detection", "tabular_classification", "tabular_regression", "text_classification", "unlabeled"],
        ]
    }
    private static var visibility: [String: Any] { ["type": "string", "enum": ["private", "namespace", "public"]] }
    private static var role: [String: Any] { ["type": "string", "enum": ["owner", "maintainer", "developer", "viewer"]] }
    private static func nullable(_ type: String, format: String? = nil) -> [String: Any] {
        var schema: [String: Any] = ["type": [type, "null"]]
        if let format { schema["format"] = format }
        return schema
    }

    /// A deployment spec's properties, with `required` fields.
    private static func deploymentSpec(required: [String]) -> [String: Any] {
        object(
            [
                "models": ["type": "array", "minItems": 1, "maxItems": 10, "items": ["$ref": "#/components/schemas/DeploymentModel"]],
                "min_replicas": ["type": "integer", "minimum": 0, "maximum": 64], "max_replicas": ["type": "integer", "minimum": 1, "maximum": 64],
                "resources": ["$ref": "#/components/schemas/Resources"], "batching": ["$ref": "#/components/schemas/BatchingPolicy"],
                "target_concurrency": ["type": "number", "exclusiveMinimum": 0],
                "request_timeout_milliseconds": ["type": "integer", "minimum": 1, "maximum": 600_000],
                "max_queue": ["type": "integer", "minimum": 1, "maximum": 100_000],
                "environment": object(["python": string, "requirements": ["type": "array", "items": string]], required: []),
                "node_selector": ["type": "object", "additionalProperties": string],
            ], required: required)
    }

    static var schemas: [String: Any] {
        [
            "Error": object(["error": object(["code": string, "message": string], required: ["code", "message"])], required: ["error"]),
            "User": object(
                [
                    "id": uuid, "username": name, "display_name": string, "email": nullable("string"), "is_admin": bool,
                    "is_disabled": bool, "created_at": time,
                ],
                required: ["id", "username", "display_name", "is_admin", "is_disabled", "created_at"]),
            "UserList": list("User"),
            "CreateUserRequest": object(
                [
                    "username": name, "password": ["type": "string", "minLength": 8], "display_name": string,
                    "email": string, "is_admin": bool,
                ], required: ["username", "password"]),
            "UpdateUserRequest": object(
                [
                    "display_name": string, "email": string, "password": ["type": "string", "minLength": 8],
                    "is_admin": bool, "is_disabled": bool,
                ], required: []),
            "ChangePasswordRequest": object(
                ["current_password": string, "new_password": ["type": "string", "minLength": 8]],
                required: ["current_password", "new_password"]),
            "PasswordTokenRequest": object(
                [
                    "username": string, "password": string, "name": name,
                    "expires_in_days": ["type": "integer", "minimum": 1, "maximum": 3650],
                ],
                required: ["username", "password", "name"]),
            "CreateTokenRequest": object(["name": name, "expires_in_days": ["type": "integer", "minimum": 1, "maximum": 3650]], required: ["name"]),
            "APIToken": object(
                [
                    "id": uuid, "user_id": uuid, "name": name, "prefix": string, "created_at": time,
                    "expires_at": nullable("string", format: "date-time"), "last_used_at": nullable("string", format: "date-time"),
                    "revoked_at": nullable("string", format: "date-time"),
                ],
                required: ["id", "user_id", "name", "prefix", "created_at"]),
            "APITokenList": list("APIToken"),
            "IssuedAPIToken": object(["token": ["$ref": "#/components/schemas/APIToken"], "secret": string], required: ["token", "secret"]),
            "Namespace": object(
                ["id": uuid, "name": name, "display_name": string, "description": string, "created_at": time],
                required: ["id", "name", "display_name", "description", "created_at"]),
            "NamespaceListing": object(
                [
                    "namespace": ["$ref": "#/components/schemas/Namespace"],
                    "role": [
                        "type": ["string", "null"],
                        "enum": ["owner", "maintainer", "developer", "viewer", NSNull()],
                    ],
                ], required: ["namespace"]),
            "NamespaceListingList": list("NamespaceListing"),
            "CreateNamespaceRequest": object(["name": name, "display_name": string, "description": string], required: ["name"]),
            "UpdateNamespaceRequest": object(["display_name": string, "description": string], required: []),
            "Membership": object(
                ["namespace_id": uuid, "user_id": uuid, "username": name, "role": role, "added_at": time],
                required: ["namespace_id", "user_id", "username", "role", "added_at"]),
            "MembershipList": list("Membership"),
            "SetMemberRequest": object(["role": role], required: ["role"]),
            "ProjectMember": object(
                ["project_id": uuid, "user_id": uuid, "username": name, "role": role, "added_at": time],
                required: ["project_id", "user_id", "username", "role", "added_at"]),
            "ProjectMemberList": list("ProjectMember"),
            "Quota": object(
                ["cpu": nullable("number"), "memory_bytes": nullable("integer"), "gpu": nullable("integer"), "weight": nullable("number")],
                required: []),
            "Project": object(
                ["id": uuid, "namespace_id": uuid, "name": name, "description": string, "created_at": time],
                required: ["id", "namespace_id", "name", "description", "created_at"]),
            "ProjectList": list("Project"),
            "CreateProjectRequest": object(["name": name, "description": string], required: ["name"]),
            "UpdateProjectRequest": object(["description": string], required: ["description"]),
            "AuditEvent": object(
                [
                    "id": ["type": "integer"], "occurred_at": time, "actor_id": nullable("string", format: "uuid"),
                    "actor_name": string, "action": string, "target_type": string, "target": string,
                    "namespace_id": nullable("string", format: "uuid"),
                    "details": ["type": "object", "additionalProperties": ["type": "string"]],
                ],
                required: ["id", "occurred_at", "actor_name", "action", "target_type", "target", "details"]),
            "BlobCheckRequest": object(["digests": ["type": "array", "maxItems": 10000, "items": sha256]], required: ["digests"]),
            "BlobCheckResponse": object(["missing": ["type": "array", "items": sha256]], required: ["missing"]),
            "BlobReceipt": object(["sha256": sha256, "size": ["type": "integer"]], required: ["sha256", "size"]),
            "Dataset": object(
                [
                    "id": uuid, "namespace_id": uuid, "project_id": uuid, "name": name, "description": string, "task_type": taskType,
                    "visibility": visibility, "created_at": time, "latest_version": nullable("integer"),
                ], required: ["id", "namespace_id", "project_id", "name", "description", "task_type", "visibility", "created_at"]),
            "DatasetList": list("Dataset"),
            "DatasetListing": object(
                ["namespace": name, "project": name, "dataset": ["$ref": "#/components/schemas/Dataset"]],
                required: ["namespace", "project", "dataset"]),
            "DatasetListingList": list("DatasetListing"),
            "ExperimentSummary": object(
                [
                    "id": string, "name": string, "namespace": string, "project": string,
                    "lifecycle_stage": ["type": "string", "enum": ["active", "deleted"]], "creation_time": ["type": "integer"],
                    "last_update_time": ["type": "integer"], "tags": stringMap,
                ], required: ["id", "name", "namespace", "project", "lifecycle_stage", "creation_time", "last_update_time", "tags"]),
            "ExperimentList": list("ExperimentSummary"),
            "RunSummary": object(
                [
                    "id": string, "name": string, "experiment_id": string, "status": string, "lifecycle_stage": string, "user": string,
                    "start_time": ["type": "integer"], "end_time": nullable("integer"), "parent_run_id": nullable("string"),
                    "params": stringMap, "tags": stringMap,
                    "metrics": [
                        "type": "array",
                        "items": object(
                            ["key": string, "value": metricValue, "step": ["type": "integer"], "timestamp": ["type": "integer"]],
                            required: ["key", "value", "step", "timestamp"]),
                    ],
                ], required: ["id", "name", "experiment_id", "status", "lifecycle_stage", "user", "start_time", "params", "metrics", "tags"]),
            "RunList": object(
                ["items": ["type": "array", "items": ["$ref": "#/components/schemas/RunSummary"]], "next_page_token": nullable("string")],
                required: ["items"]),
            "RunInput": object(
                [
                    "name": string, "digest": string, "source_type": string, "source": string, "context": nullable("string"),
                    "dataset": ["type": ["object", "null"], "description": "The Slipway dataset version: namespace, project, dataset, version"],
                ], required: ["name", "digest", "source_type", "source"]),
            "RunView": object(
                [
                    "run": ["$ref": "#/components/schemas/RunSummary"], "experiment": ["$ref": "#/components/schemas/ExperimentSummary"],
                    "inputs": ["type": "array", "items": ["$ref": "#/components/schemas/RunInput"]],
                    "code": object(
                        [
                            "source_name": nullable("string"), "git_commit": nullable("string"), "git_repository": nullable("string"),
                            "snapshot_digest": nullable("string"),
                        ], required: []),
                    "child_run_ids": ["type": "array", "items": string],
                    "logged_models": ["type": "array", "items": ["type": "object"]],
                    "model_versions": ["type": "array", "items": ["type": "object"]], "job": nullable("string"),
                ], required: ["run", "experiment", "inputs", "code", "child_run_ids", "logged_models", "model_versions"]),
            "MetricHistory": object(
                [
                    "key": string,
                    "points": [
                        "type": "array",
                        "items": object(
                            ["step": ["type": "integer"], "timestamp": ["type": "integer"], "value": metricValue],
                            required: ["step", "timestamp", "value"]),
                    ],
                ], required: ["key", "points"]),
            "ArtifactListing": object(
                [
                    "path": string,
                    "files": [
                        "type": "array",
                        "items": object(
                            ["path": string, "name": string, "is_dir": bool, "size": nullable("integer")], required: ["path", "name", "is_dir"]),
                    ],
                ], required: ["path", "files"]),
            "ModelSummary": object(
                [
                    "name": string, "namespace": string, "project": string, "description": string, "latest_version": nullable("integer"),
                    "aliases": ["type": "object", "additionalProperties": ["type": "integer"]], "tags": stringMap,
                    "creation_time": ["type": "integer"], "last_updated_time": ["type": "integer"],
                ], required: ["name", "namespace", "project", "description", "aliases", "tags", "creation_time", "last_updated_time"]),
            "ModelList": list("ModelSummary"),
            "ModelVersionView": object(
                [
                    "name": string, "version": ["type": "integer"],
                    "stage": ["type": "string", "enum": ["None", "Staging", "Production", "Archived"]], "approved": bool,
                    "description": string, "user": string, "source": string, "storage_location": string,
                    "aliases": ["type": "array", "items": string], "tags": stringMap, "creation_time": ["type": "integer"],
                    "last_updated_time": ["type": "integer"], "run_id": nullable("string"), "logged_model_id": nullable("string"),
                    "run": ["oneOf": [["$ref": "#/components/schemas/RunSummary"], ["type": "null"]]],
                    "experiment": ["oneOf": [["$ref": "#/components/schemas/ExperimentSummary"], ["type": "null"]]],
                    "inputs": ["type": "array", "items": ["$ref": "#/components/schemas/RunInput"]],
                ],
                required: [
                    "name", "version", "stage", "approved", "description", "user", "source", "storage_location", "aliases", "tags",
                    "creation_time", "last_updated_time", "inputs",
                ]),
            "ModelView": object(
                [
                    "model": ["$ref": "#/components/schemas/ModelSummary"],
                    "versions": ["type": "array", "items": ["$ref": "#/components/schemas/ModelVersionView"]],
                ], required: ["model", "versions"]),
            "Resources": object(
                [
                    "cpu": ["type": "number", "exclusiveMinimum": 0], "memory_bytes": ["type": "integer", "minimum": 1],
                    "gpu": ["type": "integer", "minimum": 0],
                ],
                required: ["cpu", "memory_bytes", "gpu"]),
            "JobSpec": object(
                [
                    "name": name, "command": string, "resources": ["$ref": "#/components/schemas/Resources"],
                    "environment": object(
                        ["python": string, "requirements": ["type": "array", "items": string], "image": string], required: []),
                    "priority": ["type": "integer"], "max_runtime_seconds": ["type": "integer", "minimum": 1],
                    "env": ["type": "object", "additionalProperties": string],
                    "code": object(
                        [
                            "sha256": ["type": "string", "pattern": "^[0-9a-f]{64}$"], "size_bytes": ["type": "integer", "minimum": 1],
                            "files": ["type": "integer"],
                        ],
                        required: ["sha256", "size_bytes"]),
                    "inputs": [
                        "type": "array", "maxItems": 20,
                        "items": object(
                            [
                                "name": string, "dataset": string, "version": ["type": "integer", "minimum": 1],
                                "layout": ["type": "string", "enum": ["records", "image_folder", "coco", "voc"]],
                            ], required: ["name", "dataset"]),
                    ],
                    "node_selector": ["type": "object", "additionalProperties": string],
                    "experiment": string,
                ], required: ["name", "command", "resources"]),
            "Job": object(
                [
                    "id": uuid, "namespace": name, "project": name, "spec": ["$ref": "#/components/schemas/JobSpec"],
                    "state": [
                        "type": "string", "enum": ["queued", "scheduled", "preparing", "running", "succeeded", "failed", "cancelled", "lost"],
                    ],
                    "reason": string, "attempts": ["type": "integer"], "max_attempts": ["type": "integer"], "node": nullable("string"),
                    "gpu_devices": ["type": "array", "items": ["type": "integer"]], "exit_code": nullable("integer"), "created_by": string,
                    "created_at": time, "started_at": nullable("string", format: "date-time"),
                    "finished_at": nullable("string", format: "date-time"), "run_id": nullable("string"), "experiment_id": nullable("string"),
                ],
                required: [
                    "id", "namespace", "project", "spec", "state", "reason", "attempts", "max_attempts", "gpu_devices", "created_by", "created_at",
                ]),
            "DeploymentModel": object(
                ["model": string, "version": ["type": "integer", "minimum": 1], "weight": ["type": "integer", "minimum": 0, "maximum": 1000]],
                required: ["model", "version"]),
            "BatchingPolicy": object(
                [
                    "max_batch_size": ["type": "integer", "minimum": 1, "maximum": 4096],
                    "max_queue_delay_microseconds": ["type": "integer", "minimum": 0, "maximum": 1_000_000],
                ], required: ["max_batch_size", "max_queue_delay_microseconds"]),
            "DeploymentSpec": deploymentSpec(required: ["models"]),
            "CreateDeploymentRequest": {
                var schema = deploymentSpec(required: ["name", "models"])
                var properties = schema["properties"] as? [String: Any] ?? [:]
                properties["name"] = name
                properties["description"] = string
                properties["production"] = bool
                properties["public"] = bool
                schema["properties"] = properties
                return schema
            }(),
            "UpdateDeploymentRequest": {
                var schema = deploymentSpec(required: [])
                var properties = schema["properties"] as? [String: Any] ?? [:]
                properties["description"] = string
                properties["production"] = bool
                properties["public"] = bool
                schema["properties"] = properties
                return schema
            }(),
            "ScaleDeploymentRequest": object(
                ["min_replicas": ["type": "integer", "minimum": 0, "maximum": 64], "max_replicas": ["type": "integer", "minimum": 1, "maximum": 64]],
                required: []),
            "RollbackDeploymentRequest": object(["revision": ["type": "integer", "minimum": 1]], required: []),
            "Deployment": object(
                [
                    "id": uuid, "name": name, "namespace": name, "project": name, "description": string, "production": bool, "public": bool,
                    "revision": ["type": "integer"], "serving_revision": nullable("integer"),
                    "spec": ["$ref": "#/components/schemas/DeploymentSpec"],
                    "state": ["type": "string", "enum": ["rolling_out", "ready", "degraded", "unavailable"]], "reason": string,
                    "desired_replicas": ["type": "object", "additionalProperties": ["type": "integer"]], "created_by": string,
                    "created_at": time, "updated_at": time,
                ],
                required: [
                    "id", "name", "namespace", "project", "description", "production", "public", "revision", "spec", "state", "reason",
                    "desired_replicas", "created_by", "created_at", "updated_at",
                ]),
            "DeploymentList": list("Deployment"),
            "DeploymentRevision": object(
                [
                    "number": ["type": "integer"], "spec": ["$ref": "#/components/schemas/DeploymentSpec"],
                    "models": ["type": "array", "items": ["type": "object"]], "reason": string, "created_by": string, "created_at": time,
                ], required: ["number", "spec", "models", "reason", "created_by", "created_at"]),
            "Replica": object(
                [
                    "id": uuid, "deployment": name, "revision": ["type": "integer"], "model": string, "version": ["type": "integer"],
                    "state": ["type": "string", "enum": ["pending", "scheduled", "starting", "ready", "unhealthy", "stopping", "stopped", "failed"]],
                    "reason": string, "node": nullable("string"), "address": nullable("string"), "restarts": ["type": "integer"],
                    "gpu_devices": ["type": "array", "items": ["type": "integer"]], "created_at": time,
                    "ready_at": nullable("string", format: "date-time"), "updated_at": time,
                ],
                required: ["id", "deployment", "revision", "model", "version", "state", "reason", "restarts", "gpu_devices", "created_at", "updated_at"]),
            "DeploymentDetail": object(
                [
                    "deployment": ["$ref": "#/components/schemas/Deployment"],
                    "revisions": ["type": "array", "items": ["$ref": "#/components/schemas/DeploymentRevision"]],
                    "replicas": ["type": "array", "items": ["$ref": "#/components/schemas/Replica"]], "inference_path": string,
                ], required: ["deployment", "revisions", "replicas", "inference_path"]),
            "DeploymentMetrics": object(
                [
                    "bucket_seconds": ["type": "number"],
                    "versions": [
                        "type": "object",
                        "additionalProperties": [
                            "type": "array",
                            "items": object(
                                [
                                    "start": ["type": "number"], "requests": ["type": "integer"], "errors": ["type": "integer"],
                                    "p50_milliseconds": nullable("number"), "p99_milliseconds": nullable("number"),
                                    "mean_batch_size": nullable("number"),
                                ], required: ["start", "requests", "errors"]),
                        ],
                    ],
                    "in_flight": ["type": "object", "additionalProperties": ["type": "integer"]],
                ], required: ["bucket_seconds", "versions", "in_flight"]),
            "JobList": list("Job"),
            "JobDetail": object(
                ["job": ["$ref": "#/components/schemas/Job"], "events": ["type": "array", "items": ["type": "object"]]], required: ["job", "events"]),
            "Node": object(
                [
                    "id": uuid, "name": string, "capacity": ["$ref": "#/components/schemas/Resources"],
                    "gpus": ["type": "array", "items": ["type": "object"]], "labels": ["type": "object", "additionalProperties": string],
                    "state": ["type": "string", "enum": ["ready", "cordoned", "draining", "lost"]],
                    "usage": ["$ref": "#/components/schemas/Resources"],
                    "registered_at": time, "last_heartbeat_at": time,
                    "allocated": object(
                        ["cpu": ["type": "number"], "memory_bytes": ["type": "integer"], "gpu": ["type": "integer"]], required: []),
                    "placed_jobs": ["type": "integer"],
                ], required: ["id", "name", "capacity", "gpus", "labels", "state", "usage", "registered_at", "last_heartbeat_at"]),
            "NodeList": list("Node"),
            "JoinToken": object(
                ["id": uuid, "name": string, "created_by": string, "created_at": time, "revoked_at": nullable("string", format: "date-time")],
                required: ["id", "name", "created_by", "created_at"]),
            "JoinTokenList": list("JoinToken"),
            "CreateJoinTokenRequest": object(["name": name], required: ["name"]),
            "IssuedJoinToken": object(["token": ["$ref": "#/components/schemas/JoinToken"], "secret": string], required: ["token", "secret"]),
            "AgentRegistration": object(
                [
                    "join_token": string, "name": string, "capacity": ["$ref": "#/components/schemas/Resources"],
                    "gpus": ["type": "array", "items": ["type": "object"]], "labels": ["type": "object", "additionalProperties": string],
                ], required: ["join_token", "name", "capacity", "gpus", "labels"]),
            "AgentCredentials": object(
                ["node_id": uuid, "agent_token": string, "heartbeat_seconds": ["type": "number"]],
                required: ["node_id", "agent_token", "heartbeat_seconds"]),
            "AgentHeartbeat": object(
                ["usage": ["$ref": "#/components/schemas/Resources"], "running": ["type": "array", "items": ["type": "object"]]],
                required: ["usage", "running"]),
            "AgentInstructions": object(
                ["start": ["type": "array", "items": ["type": "object"]], "stop": ["type": "array", "items": uuid]], required: ["start", "stop"]),
            "JobStateReport": object(
                ["attempt": ["type": "integer"], "state": string, "reason": string, "exit_code": ["type": "integer"]], required: ["attempt", "state"]),
            "DatasetLineage": object(
                [
                    "source": string, "runs": ["type": "array", "items": ["type": "object"]],
                    "model_versions": ["type": "array", "items": ["type": "object"]],
                ], required: ["source", "runs", "model_versions"]),
            "UpdateDatasetRequest": object(["description": string, "visibility": visibility], required: []),
            "CreateDatasetRequest": object(
                ["name": name, "task_type": taskType, "description": string, "visibility": visibility], required: ["name", "task_type"]),
            "DatasetVersion": object(
                [
                    "dataset_id": uuid, "number": ["type": "integer"],
                    "state": ["type": "string", "enum": ["committed", "deprecated", "archived", "deleted"]],
                    "message": string, "record_count": ["type": "integer"], "created_at": time, "created_by": string,
                ], required: ["dataset_id", "number", "state", "message", "record_count", "created_at", "created_by"]),
            "DatasetVersionList": list("DatasetVersion"),
            "CreateVersionRequest": object(
                ["message": string, "source": ["$ref": "#/components/schemas/ImportSource"]], required: ["source"]),
            "VersionDetail": object(
                [
                    "version": ["$ref": "#/components/schemas/DatasetVersion"],
                    "manifest": ["type": "object", "description": "The version's manifest: schema, statistics, shards (docs/dataset-format.md)"],
                ],
                required: ["version", "manifest"]),
            "RecordPage": object(
                ["items": ["type": "array", "items": ["type": "object"]], "offset": ["type": "integer"], "total": ["type": "integer"]],
                required: ["items", "offset", "total"]),
            "VersionDiff": object(
                [
                    "from": ["type": "integer"], "to": ["type": "integer"], "added": ["type": "integer"], "removed": ["type": "integer"],
                    "changed": ["type": "integer"], "unchanged": ["type": "integer"],
                    "added_sample": ["type": "array", "items": string], "removed_sample": ["type": "array", "items": string],
                    "changed_sample": ["type": "array", "items": string],
                    "class_counts_before": ["type": "object", "additionalProperties": ["type": "integer"]],
                    "class_counts_after": ["type": "object", "additionalProperties": ["type": "integer"]],
                ], required: ["from", "to", "added", "removed", "changed", "unchanged"]),
            "VersionStateRequest": object(
                ["state": ["type": "string", "enum": ["committed", "deprecated", "archived", "deleted"]]], required: ["state"]),
            "ImportSource": object(
                [
                    "format": ["type": "string", "enum": DataFormat.allCases.map(\.rawValue)], "blob": sha256, "label_column": string,
                    "id_column": string,
                    "field_types": [
                        "type": "object", "additionalProperties": ["type": "string", "enum": ["string", "integer", "number", "boolean"]],
                    ],
                ], required: ["format", "blob"]),
            "CreateDraftRequest": object(["from_version": ["type": "integer", "minimum": 1], "empty": bool], required: []),
            "DatasetDraft": object(
                [
                    "dataset_id": uuid, "base_version": nullable("integer"), "state": ["type": "string", "enum": ["draft"]],
                    "record_count": ["type": "integer"], "added": ["type": "integer"], "changed": ["type": "integer"],
                    "removed": ["type": "integer"], "schema": ["type": "object"], "revision": ["type": "integer"], "created_at": time,
                    "created_by": string, "updated_at": time,
                ],
                required: [
                    "dataset_id", "state", "record_count", "added", "changed", "removed", "schema", "revision", "created_at", "created_by",
                    "updated_at",
                ]),
            "DatasetRecord": [
                "type": "object", "description": "A record in the unified format (docs/dataset-record.schema.json)",
                "properties": ["id": ["type": "string", "minLength": 1, "maxLength": 512]], "required": ["id"],
            ],
            "AnnotationsRequest": object(["annotations": ["type": "array", "items": ["type": "object"]]], required: ["annotations"]),
            "CommitDraftRequest": object(["message": string], required: []),
            "DraftImportReport": object(
                ["added": ["type": "integer"], "replaced": ["type": "integer"], "draft": ["$ref": "#/components/schemas/DatasetDraft"]],
                required: ["added", "replaced", "draft"]),
            "GarbageCollectionRequest": object(["grace_seconds": ["type": "integer", "minimum": 0, "maximum": 2_592_000]], required: []),
            "GarbageCollectionReport": object(
                ["deleted": ["type": "integer"], "freed_bytes": ["type": "integer"], "kept_young": ["type": "integer"]],
                required: ["deleted", "freed_bytes", "kept_young"]),
            "AuditPage": object(
                [
                    "items": ["type": "array", "items": ["$ref": "#/components/schemas/AuditEvent"]],
                    "next_before": nullable("integer"),
                ], required: ["items"]),
        ]
    }
}
