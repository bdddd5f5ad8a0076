import Foundation
import Hummingbird
import SlipwayDomain
import SlipwayStore

/// Administrators' view of the cluster: nodes with their capacity and usage, cordon / drain / uncordon, and
/// the join tokens agents register with.
struct NodeController: Sendable {
    let store: MetadataStore
    let access: AccessPolicy

    func register(on api: RouterGroup<AppRequestContext>) {
        api.get("nodes", use: list)
        api.post("nodes/{node}/cordon", use: cordon)
        api.post("nodes/{node}/drain", use: drain)
        api.post("nodes/{node}/uncordon", use: uncordon)
        api.get("admin/join-tokens", use: joinTokens)
        api.post("admin/join-tokens", use: createJoinToken)
        api.delete("admin/join-tokens/{id}", use: revokeJoinToken)
    }

    /// Every signed-in user may see the nodes (what the cluster has); changing them is for administrators.
    @Sendable func list(_ request: Request, context: AppRequestContext) async throws -> ItemList<ComputeNode> {
        _ = try access.caller(context)
        // Totals per node only: which jobs they are is for those who may see their namespaces.
        let placed = try await store.compute.jobs(
            namespaceIDs: nil, projectID: nil, states: JobState.allCases.filter(\.isPlaced), limit: 100_000)
        let allocations = NodeAllocation.byNode(placed)
        return ItemList(
            items: try await store.compute.nodes().map { node in
                var node = node
                let allocation = allocations[node.name] ?? NodeAllocation()
                node.allocated = allocation.resources
                node.placedJobs = allocation.jobs
                return node
            })
    }

    @Sendable func cordon(_ request: Request, context: AppRequestContext) async throws -> ComputeNode {
        try await setState(.cordoned, context)
    }

    /// Cordons the node and moves its placed jobs back to the queue, to run elsewhere.
    @Sendable func drain(_ request: Request, context: AppRequestContext) async throws -> ComputeNode {
        try await setState(.draining, context)
    }

    @Sendable func uncordon(_ request: Request, context: AppRequestContext) async throws -> ComputeNode {
        try await setState(.ready, context)
    }

    private func setState(_ state: NodeState, _ context: AppRequestContext) async throws -> ComputeNode {
        let caller = try access.admin(context)
        let name = try context.parameters.require("node")
        do {
            return try await store.compute.setState(ofNode: name, state, by: caller.auditActor)
        } catch let error as StoreError where error.isNotFound {
            throw APIError.notFound("node '\(name.prefix(63))' does not exist")
        }
    }

    struct CreateJoinTokenRequest: Decodable {
        var name: String
    }

    @Sendable func joinTokens(_ request: Request, context: AppRequestContext) async throws -> ItemList<JoinToken> {
        _ = try access.admin(context)
        return ItemList(items: try await store.compute.joinTokens())
    }

    /// A new join token; its secret (`slwj_…`) is shown only in this answer.
    @Sendable func createJoinToken(_ request: Request, context: AppRequestContext) async throws -> Created<IssuedJoinToken> {
        let caller = try access.admin(context)
        let body = try await request.decodeJSON(CreateJoinTokenRequest.self, context: context)
        let name = try validName(body.name, field: "name")
        let secret = "slwj_" + SecretGenerator.hex(bytes: 32)
        let token = try await store.compute.createJoinToken(name: name.value, secretHash: SecretGenerator.digest(secret), by: caller.auditActor)
        return Created(value: IssuedJoinToken(token: token, secret: secret))
    }

    @Sendable func revokeJoinToken(_ request: Request, context: AppRequestContext) async throws -> Response {
        let caller = try access.admin(context)
        let text = try context.parameters.require("id")
        guard let id = UUID(uuidString: text) else { throw APIError.notFound("join token '\(text.prefix(40))' does not exist") }
        do {
            try await store.compute.revokeJoinToken(id: id, by: caller.auditActor)
        } catch let error as StoreError where error.isNotFound {
            throw APIError.notFound("join token '\(text.prefix(40))' does not exist")
        }
        return Response(status: .noContent)
    }
}

/// What the jobs placed on a node hold there, and how many they are.
struct NodeAllocation: Sendable, Equatable {
    var resources = ComputeResources.zero
    var jobs = 0

    /// The allocations of `jobs`' placed ones, by node name.
    static func byNode(_ jobs: [Job]) -> [String: NodeAllocation] {
        var totals: [String: NodeAllocation] = [:]
        for job in jobs where job.state.isPlaced {
            guard let node = job.node else { continue }
            var total = totals[node] ?? NodeAllocation()
            total.resources.cpu += job.spec.resources.cpu
            total.resources.memoryBytes += job.spec.resources.memoryBytes
            total.resources.gpu += max(job.spec.resources.gpu, job.gpuDevices.count)
            total.jobs += 1
            totals[node] = total
        }
        return totals
    }
}
