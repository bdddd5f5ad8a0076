import Hummingbird
import SlipwayDomain

// Identity values are sent as JSON bodies as they are.
extension User: ResponseEncodable {}
extension APIToken: ResponseEncodable {}
extension IssuedAPIToken: ResponseEncodable {}
extension Namespace: ResponseEncodable {}
extension NamespaceListing: ResponseEncodable {}
extension Membership: ResponseEncodable {}
extension Project: ResponseEncodable {}
extension Quota: ResponseEncodable {}
extension AuditPage: ResponseEncodable {}
extension ItemList: ResponseEncodable {}
extension ProjectMember: ResponseEncodable {}
