/// The release of Slipway this build is.
public enum SlipwayVersion {
    public static let current = "0.6.0"
}
