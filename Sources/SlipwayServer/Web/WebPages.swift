import Foundation
import SlipwayDomain
import SlipwayStore

// View models of the web UI's pages: plain strings and flags, so templates stay logic-less.

/// What every page's layout shows: the signed-in user, the navigation, a message.
struct LayoutView: Sendable {
    struct UserView: Sendable {
        var username: String
        var isAdmin: Bool
    }
    struct NavigationItem: Sendable {
        var label: String
        var href: String
        var active: Bool
    }
    struct Flash: Sendable {
        var kind: String
        var message: String
    }

    var user: [UserView]
    var navigation: [NavigationItem]
    var csrf: String
    var flash: [Flash]

    /// The layout for `caller` on the page under `section` (matched against each item's path).
    static func make(_ caller: Caller?, section: String, flash: Flash? = nil) -> LayoutView {
        var items = [
            ("Namespaces", "/namespaces"), ("Datasets", "/datasets"), ("Experiments", "/experiments"), ("Models", "/models"), ("Jobs", "/jobs"),
            ("Deployments", "/deployments"), ("Nodes", "/nodes"), ("Tokens", "/tokens"),
        ]
        if caller?.user.isAdmin == true { items.append(("Audit", "/audit")) }
        var csrf = ""
        if case .session(let session) = caller?.credential { csrf = session.csrfToken }
        return LayoutView(
            user: caller.map { [UserView(username: $0.user.username.value, isAdmin: $0.user.isAdmin)] } ?? [],
            navigation: items.map { NavigationItem(label: $0.0, href: $0.1, active: $0.1 == section) },
            csrf: csrf, flash: flash.map { [$0] } ?? [])
    }
}

struct LoginPage: Sendable {
    var layout: LayoutView
    var csrf: String
    var next: String
    var username: String
}

struct NamespacesPage: Sendable {
    struct Row: Sendable {
        var name: String
        var title: String
        var role: String
        var created: String
    }
    var layout: LayoutView
    var namespaces: [Row]
}

struct NamespacePage: Sendable {
    struct NamespaceView: Sendable {
        var name: String
        var displayName: String
        var description: String
    }
    struct ProjectRow: Sendable {
        var name: String
        var description: String
        var created: String
    }
    struct MemberRow: Sendable {
        var username: String
        var role: String
        var removable: Bool
        var namespace: String
        var csrf: String
    }
    struct QuotaView: Sendable {
        var cpu: String
        var memory: String
        var gpu: String
        var cpuValue: String
        var memoryValue: String
        var gpuValue: String
        var weight: String
        var weightValue: String

        init(_ quota: Quota) {
            weight = Self.number(quota.weight ?? 1)
            weightValue = quota.weight.map { Self.number($0) } ?? ""
            cpu = quota.cpu.map { Self.number($0) } ?? "unlimited"
            memory = quota.memoryBytes.map { Self.number(Double($0) / 1_073_741_824) + " GiB" } ?? "unlimited"
            gpu = quota.gpu.map(String.init) ?? "unlimited"
            cpuValue = quota.cpu.map { Self.number($0) } ?? ""
            memoryValue = quota.memoryBytes.map { Self.number(Double($0) / 1_073_741_824) } ?? ""
            gpuValue = quota.gpu.map(String.init) ?? ""
        }

        static func number(_ value: Double) -> String {
            value == value.rounded() ? String(Int(value)) : String(format: "%.2f", value)
        }
    }

    var layout: LayoutView
    var namespace: NamespaceView
    var role: String
    var projects: [ProjectRow]
    var members: [MemberRow]
    var quota: QuotaView
    var canCreateProject: Bool
    var canManageMembers: Bool
    var grantableRoles: [String]
    var canSetQuota: Bool
    var canAudit: Bool
}

struct AuditLogPage: Sendable {
    struct Row: Sendable {
        var time: String
        var actor: String
        var action: String
        var target: String
        var details: String
    }
    var layout: LayoutView
    var scope: String
    var events: [Row]
    var olderLink: String
}

struct TokensPage: Sendable {
    struct Row: Sendable {
        var id: String
        var name: String
        var prefix: String
        var created: String
        var expires: String
        var lastUsed: String
        var state: String
        var revocable: Bool
        var csrf: String
    }
    struct Issued: Sendable {
        var name: String
        var secret: String
    }
    var layout: LayoutView
    var tokens: [Row]
    var issued: [Issued]
}

struct ErrorPage: Sendable {
    var layout: LayoutView
    var status: String
    var heading: String
    var message: String
}

extension Date {
    /// `2026-11-25 14:03` in UTC, as pages show times.
    var pageText: String {
        let formatter = DateFormatter()
        formatter.locale = Locale(identifier: "en_US_POSIX")
        formatter.timeZone = TimeZone(identifier: "UTC")
        formatter.dateFormat = "yyyy-MM-dd HH:mm"
        return formatter.string(from: self)
    }
}
