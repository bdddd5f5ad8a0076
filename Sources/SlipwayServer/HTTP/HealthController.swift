import Hummingbird
import SlipwayStore

/// `/healthz` (the process is up) and `/readyz` (it can serve: the database answers).
struct HealthController: Sendable {
    let database: Database

    func register(on router: Router<AppRequestContext>) {
        router.get("healthz") { _, _ in HealthStatus(status: "ok") }
        router.get("readyz") { _, _ -> EditedResponse<HealthStatus> in
            if await database.isReachable() {
                return EditedResponse(status: .ok, response: HealthStatus(status: "ok"))
            }
            return EditedResponse(status: .serviceUnavailable, response: HealthStatus(status: "database unreachable"))
        }
    }
}

struct HealthStatus: ResponseEncodable {
    var status: String
}
