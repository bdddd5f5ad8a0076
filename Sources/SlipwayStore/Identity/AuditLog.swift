import Foundation
import SQLKit
import SlipwayDomain

/// Reads the audit log. Events are written by each repository inside the transaction of the change they record.
public protocol AuditLog: Sendable {
    /// Events newest first.
    /// - Parameters:
    ///   - namespaceID: only events of this namespace; `nil` for every event.
    ///   - before: only events with a smaller id (for paging).
    ///   - limit: at most this many.
    func events(namespaceID: UUID?, before: Int64?, limit: Int) async throws -> [AuditEvent]
}

/// The audit log in the SQL database.
public struct SQLAuditLog: AuditLog {
    let database: Database

    public init(database: Database) {
        self.database = database
    }

    public func events(namespaceID: UUID?, before: Int64?, limit: Int) async throws -> [AuditEvent] {
        try await database.read { db in
            var query = db.select().column("*").from("audit_events")
            if let namespaceID { query = query.where("namespace_id", .equal, namespaceID.uuidString) }
            if let before { query = query.where("id", .lessThan, before) }
            return try await query.orderBy("id", .descending).limit(limit)
                .all(decoding: AuditEventRow.self, keyDecodingStrategy: .convertFromSnakeCase)
                .map { $0.event }
        }
    }
}

struct AuditEventRow: Codable {
    var id: Int64
    var occurredAt: Double
    var actorId: String?
    var actorName: String
    var action: String
    var targetType: String
    var target: String
    var namespaceId: String?
    var details: String

    var event: AuditEvent {
        let decoded = (try? JSONDecoder().decode([String: String].self, from: Data(details.utf8))) ?? [:]
        return AuditEvent(
            id: id, occurredAt: Date(timeIntervalSince1970: occurredAt), actorID: actorId.flatMap(UUID.init(uuidString:)),
            actorName: actorName, action: action, targetType: targetType, target: target,
            namespaceID: namespaceId.flatMap(UUID.init(uuidString:)), details: decoded)
    }
}

extension SQLDatabase {
    /// Appends an audit event; call inside the transaction that makes the change.
    func recordAudit(
        _ actor: AuditActor, _ action: String, targetType: String, target: String,
        namespaceID: UUID? = nil, details: [String: String] = [:], at time: Date = Date()
    ) async throws {
        let encoder = JSONEncoder()
        encoder.outputFormatting = .sortedKeys
        let detailsJSON = String(decoding: try encoder.encode(details), as: UTF8.self)
        try await insert(into: "audit_events")
            .columns("occurred_at", "actor_id", "actor_name", "action", "target_type", "target", "namespace_id", "details")
            .values(
                SQLBind(time.timeIntervalSince1970), SQLBind(actor.userID?.uuidString), SQLBind(actor.name),
                SQLBind(action), SQLBind(targetType), SQLBind(target), SQLBind(namespaceID?.uuidString), SQLBind(detailsJSON)
            )
            .run()
    }
}
