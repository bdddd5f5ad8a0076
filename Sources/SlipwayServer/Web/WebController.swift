import Hummingbird
enum WebController { static func register(on router: Router<AppRequestContext>, platform: Platform, access: AccessPolicy, tokens: TokenIssuer) async throws {} }
