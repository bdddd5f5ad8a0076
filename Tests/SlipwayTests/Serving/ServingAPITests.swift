import Foundation
import HTTPTypes
import HummingbirdTesting
import NIOCore
import SlipwayDomain
import SQLKit
import SlipwayStore
import Testing

@testable import SlipwayServer

/// Deployments through the API: a deployment pins its versions' files in revision 1, every change makes a revision
/// (scale, update, rollback), production takes only approved versions, bad specs are refused naming the field and
/// change nothing, and outsiders see nothing.
@Suite("Serving API")
struct ServingAPITests {
    static let mlflow = "/api/2.0/mlflow"
    static let base = "/api/v1/namespaces/team/projects/flowers/deployments"
    static let modelPy = """
        import numpy as np

        class Model:
            inputs = [{"name": "x", "datatype": "FP32", "shape": [-1, 2]}]
            outputs = [{"name": "sum", "datatype": "FP32", "shape": [-1]}]

            def predict(self, batch):
                return {"sum": batch["x"].sum(axis=1).astype(np.float32)}
        """

    /// `team/flowers` with the registered model `team.flowers.adder`, versions 1 and 2 (a custom Python model).
    static func seed(_ api: APIClient) async throws -> String {
        let admin = try await DatasetAPITests.setUp(api)
        let created = try await api.request(.post, mlflow + "/experiments/create", token: admin, json: #"{"name":"team/flowers/adder"}"#)
        let experiment = try #require(created.json["experiment_id"] as? String)
        let run = try await api.request(.post, mlflow + "/runs/create", token: admin, json: #"{"experiment_id":"\#(experiment)"}"#)
        let runID = try #require((run.json["run"] as? [String: Any]).flatMap { ($0["info"] as? [String: Any])?["run_id"] as? String })
        for (path, body) in [("model/model.py", modelPy), ("model/requirements.txt", "numpy\n")] {
            let uploaded = try await api.client.execute(
                uri: "/api/2.0/mlflow-artifacts/artifacts/\(experiment)/\(runID)/artifacts/\(path)", method: .put,
                headers: [.authorization: "Bearer \(admin)"], body: ByteBuffer(string: body))
            #expect(uploaded.status == .ok)
        }
        #expect(try await api.request(.post, mlflow + "/registered-models/create", token: admin, json: #"{"name":"team.flowers.adder"}"#).status == .ok)
        for _ in 1...2 {
            let version = try await api.request(
                .post, mlflow + "/model-versions/create", token: admin,
                json: #"{"name":"team.flowers.adder","source":"runs:/\#(runID)/model","run_id":"\#(runID)"}"#)
            #expect(version.status == .ok, "\(version.text)")
        }
        return admin
    }

    static func create(_ api: APIClient, _ token: String, _ json: String) async throws -> APIResult {
        try await api.request(.post, base, token: token, json: json)
    }

    @Test(arguments: TestBackend.available)
    func aDeploymentPinsItsModelFilesAndEveryChangeMakesARevision(backend: TestBackend) async throws {
        try await TestPlatform.withAPI(backend) { api in
            let admin = try await Self.seed(api)
            let created = try await Self.create(
                api, admin, #"{"name":"adder","models":[{"model":"team.flowers.adder","version":1}],"max_replicas":3,"batching":{"max_batch_size":16,"max_queue_delay_microseconds":500}}"#)
            #expect(created.status == .created, "\(created.text)")
            let detail = try created.decode(DeploymentDetail.self)
            #expect(detail.inferencePath == "/v2/models/adder")
            #expect(detail.deployment.revision == 1 && detail.deployment.servingRevision == nil && detail.deployment.state == .rollingOut)
            #expect(detail.deployment.desiredReplicas == ["team.flowers.adder:1": 1])
            let files = try #require(detail.revisions.first?.models.first?.files)
            #expect(Set(files.map(\.path)) == ["model.py", "requirements.txt"], "paths are relative to the model's folder")
            #expect(files.first { $0.path == "model.py" }?.sha256 == sha256Hex(Self.modelPy))

            // A second deployment may not take the same name, anywhere on the server.
            let again = try await Self.create(api, admin, #"{"name":"adder","models":[{"model":"team.flowers.adder","version":2}]}"#)
            #expect(again.status == .conflict && again.errorCode == "already_exists")

            let scaled = try await api.request(.post, "/api/v1/deployments/adder/scale", token: admin, json: #"{"min_replicas":2,"max_replicas":4}"#)
            #expect(scaled.status == .ok, "\(scaled.text)")
            #expect(try scaled.decode(DeploymentDetail.self).deployment.spec.minReplicas == 2)
            let canary = try await api.request(
                .patch, "/api/v1/deployments/adder", token: admin,
                json: #"{"models":[{"model":"team.flowers.adder","version":2,"weight":90},{"model":"team.flowers.adder","version":1,"weight":10}],"description":"canary"}"#)
            #expect(canary.status == .ok, "\(canary.text)")
            let revised = try canary.decode(DeploymentDetail.self)
            #expect(revised.deployment.revision == 3 && revised.deployment.description == "canary")
            #expect(revised.revisions.map(\.reason).first?.contains("models") == true)
            let back = try await api.request(.post, "/api/v1/deployments/adder/rollback", token: admin)
            #expect(back.status == .ok, "\(back.text)")
            let rolledBack = try back.decode(DeploymentDetail.self)
            #expect(rolledBack.deployment.revision == 4 && rolledBack.deployment.spec.models.map(\.version) == [1])
            #expect(rolledBack.revisions.first?.reason == "rolled back to revision 2")
            let toFirst = try await api.request(.post, "/api/v1/deployments/adder/rollback", token: admin, json: #"{"revision":1}"#)
            #expect(try toFirst.decode(DeploymentDetail.self).deployment.spec.minReplicas == 1)

            let listed = try await api.request(.get, "/api/v1/deployments", token: admin)
            #expect(listed.items.map { $0["name"] as? String } == ["adder"])
            #expect(try await api.request(.get, Self.base, token: admin).items.count == 1)
            let metrics = try await api.request(.get, "/api/v1/deployments/adder/metrics", token: admin)
            #expect(metrics.status == .ok && metrics.json["bucket_seconds"] as? Double == 5)

            #expect(try await api.request(.delete, "/api/v1/deployments/adder", token: admin).status == .noContent)
            #expect(try await api.request(.get, "/api/v1/deployments/adder", token: admin).status == .notFound)
        }
    }

    struct BadSpec: Sendable, CustomTestStringConvertible {
        var json: String
        var status: HTTPResponse.Status
        var code: String
        var testDescription: String { code + " " + json.prefix(60) }
    }

    static let badSpecs: [BadSpec] = [
        BadSpec(json: #"{"name":"Bad Name","models":[{"model":"team.flowers.adder","version":1}]}"#, status: .badRequest, code: "invalid_name"),
        BadSpec(json: #"{"name":"a","models":[]}"#, status: .badRequest, code: "invalid_field"),
        BadSpec(json: #"{"name":"a"}"#, status: .badRequest, code: "missing_field"),
        BadSpec(json: #"{"name":"a","models":[{"model":"team.flowers.adder","version":1,"weight":0}]}"#, status: .badRequest, code: "invalid_field"),
        BadSpec(
            json: #"{"name":"a","models":[{"model":"team.flowers.adder","version":1},{"model":"team.flowers.adder","version":1}]}"#,
            status: .badRequest, code: "invalid_field"),
        BadSpec(json: #"{"name":"a","models":[{"model":"team.flowers.adder","version":1}],"min_replicas":3,"max_replicas":2}"#, status: .badRequest,
            code: "invalid_field"),
        BadSpec(json: #"{"name":"a","models":[{"model":"team.flowers.adder","version":1}],"resources":{"cpu":0,"memory_bytes":1073741824,"gpu":0}}"#,
            status: .badRequest, code: "invalid_field"),
        BadSpec(json: #"{"name":"a","models":[{"model":"team.flowers.adder","version":1}],"batching":{"max_batch_size":0,"max_queue_delay_microseconds":0}}"#,
            status: .badRequest, code: "invalid_field"),
        BadSpec(json: #"{"name":"a","models":[{"model":"team.flowers.adder","version":1}],"environment":{"python":"/bin/sh","requirements":[]}}"#,
            status: .badRequest, code: "invalid_field"),
        BadSpec(json: #"{"name":"a","models":[{"model":"team.flowers.adder","version":9}]}"#, status: .notFound, code: "not_found"),
        BadSpec(json: #"{"name":"a","models":[{"model":"nobody.has.this","version":1}]}"#, status: .notFound, code: "not_found"),
    ]

    @Test(arguments: badSpecs)
    func badSpecsAreRefusedSayingWhatIsWrongAndChangeNothing(_ bad: BadSpec) async throws {
        try await TestPlatform.withAPI { api in
            let admin = try await Self.seed(api)
            let result = try await Self.create(api, admin, bad.json)
            #expect(result.status == bad.status, "\(result.text)")
            #expect(result.errorCode == bad.code, "\(result.text)")
            #expect(try await api.platform.store.serving.deployments(namespaceIDs: nil, projectID: nil).isEmpty)
        }
    }

    @Test func aProductionDeploymentTakesOnlyApprovedVersions() async throws {
        try await TestPlatform.withAPI { api in
            let admin = try await Self.seed(api)
            let refused = try await Self.create(
                api, admin, #"{"name":"prod","production":true,"models":[{"model":"team.flowers.adder","version":1}]}"#)
            #expect(refused.status == .conflict && refused.errorCode == "version_not_approved", "\(refused.text)")
            // The approval workflow sets this flag; the hook is the registry's `approved` column.
            try await api.platform.database.write { db in
                try await db.update("model_versions").set("approved", to: true).where("name", .equal, "team.flowers.adder")
                    .where("version", .equal, 1).run()
            }
            let accepted = try await Self.create(
                api, admin, #"{"name":"prod","production":true,"models":[{"model":"team.flowers.adder","version":1}]}"#)
            #expect(accepted.status == .created, "\(accepted.text)")
            // Moving it to an unapproved version is refused, and leaves the revision as it was.
            let moved = try await api.request(
                .patch, "/api/v1/deployments/prod", token: admin, json: #"{"models":[{"model":"team.flowers.adder","version":2}]}"#)
            #expect(moved.status == .conflict && moved.errorCode == "version_not_approved")
            #expect(try await api.request(.get, "/api/v1/deployments/prod", token: admin).decode(DeploymentDetail.self).deployment.revision == 1)
            // So is turning an unapproved deployment into a production one.
            #expect(try await Self.create(api, admin, #"{"name":"staging","models":[{"model":"team.flowers.adder","version":2}]}"#).status == .created)
            let promoted = try await api.request(.patch, "/api/v1/deployments/staging", token: admin, json: #"{"production":true}"#)
            #expect(promoted.status == .conflict && promoted.errorCode == "version_not_approved")
        }
    }

    @Test func rolesDecideWhoMaySeeChangeAndDeleteADeployment() async throws {
        try await TestPlatform.withAPI { api in
            let admin = try await Self.seed(api)
            #expect(try await Self.create(api, admin, #"{"name":"adder","models":[{"model":"team.flowers.adder","version":1}]}"#).status == .created)
            let outsider = try await api.user("olga", adminToken: admin)
            let viewer = try await api.user("vic", adminToken: admin)
            let developer = try await api.user("dev", adminToken: admin)
            for (name, role) in [("vic", "viewer"), ("dev", "developer")] {
                #expect(
                    try await api.request(.put, "/api/v1/namespaces/team/members/\(name)", token: admin, json: #"{"role":"\#(role)"}"#).status
                        == .ok)
            }
            #expect(try await api.request(.get, "/api/v1/deployments/adder", token: outsider).status == .notFound)
            #expect(try await api.request(.get, "/api/v1/deployments", token: outsider).items.isEmpty)
            #expect(try await api.request(.get, "/api/v1/deployments/adder", token: viewer).status == .ok)
            #expect(try await api.request(.post, "/api/v1/deployments/adder/scale", token: viewer, json: #"{"max_replicas":2}"#).status == .forbidden)
            #expect(try await Self.create(api, viewer, #"{"name":"mine","models":[{"model":"team.flowers.adder","version":1}]}"#).status == .forbidden)
            #expect(try await api.request(.post, "/api/v1/deployments/adder/scale", token: developer, json: #"{"max_replicas":2}"#).status == .ok)
            #expect(try await api.request(.delete, "/api/v1/deployments/adder", token: developer).status == .forbidden)
            let production = try await Self.create(
                api, developer, #"{"name":"prod","production":true,"models":[{"model":"team.flowers.adder","version":1}]}"#)
            #expect(production.status == .forbidden, "production needs a maintainer")
            // A public deployment answers callers without a token: only a maintainer opens one.
            let open = try await Self.create(api, developer, #"{"name":"open","public":true,"models":[{"model":"team.flowers.adder","version":1}]}"#)
            #expect(open.status == .forbidden, "public needs a maintainer: \(open.text)")
            let opened = try await api.request(.patch, "/api/v1/deployments/adder", token: developer, json: #"{"public":true}"#)
            #expect(opened.status == .forbidden, "\(opened.text)")
            #expect(try await api.platform.store.serving.deployment(named: "adder")?.deployment.isPublic == false)
        }
    }

    @Test func theGatewayAnswersInTheInferenceProtocolsShapeAndChecksWhoCalls() async throws {
        try await TestPlatform.withAPI { api in
            let admin = try await Self.seed(api)
            #expect(try await Self.create(api, admin, #"{"name":"adder","models":[{"model":"team.flowers.adder","version":1}]}"#).status == .created)
            #expect(try await api.request(.get, "/v2/health/live").json["live"] as? Bool == true)
            #expect(try await api.request(.get, "/v2/health/ready").json["ready"] as? Bool == true)
            let server = try await api.request(.get, "/v2")
            #expect(server.json["name"] as? String == "slipway" && (server.json["extensions"] as? [String])?.contains("binary_tensor_data") == true)
            let unmatched = try await api.request(.get, "/v2/nothing/here")
            #expect(unmatched.status == .notFound && (unmatched.json["error"] as? String)?.contains("no Open Inference Protocol route") == true)
            let badToken = try await api.request(.post, "/v2/models/adder/infer", token: "slw_" + String(repeating: "0", count: 64), json: "{}")
            #expect(badToken.status == .unauthorized && badToken.json["error"] as? String == "the API token is unknown, expired or revoked")
            // The router in tests runs no gateway service: no deployment is routed, so every model is unknown.
            let unknown = try await api.request(.post, "/v2/models/adder/infer", token: admin, json: "{}")
            #expect(unknown.status == .notFound && unknown.json["error"] as? String == "model 'adder' is not deployed")
            let version = try await api.request(.get, "/v2/models/adder/versions/zero/ready", token: admin)
            #expect(version.status == .notFound || version.status == .badRequest)
            let metrics = try await api.request(.get, "/metrics")
            #expect(metrics.status == .ok && metrics.text.contains("slipway_node_up") && metrics.text.contains("slipway_deployment_state"))
        }
    }
}
