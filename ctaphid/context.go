package ctaphid

import "context"

type channelKey struct{}

// ChannelFromContext returns the CTAPHID channel a ServeCTAP call came on.
// Each channel is one host's session with the authenticator; handlers keep
// per-host state (pinUvAuthToken, GetNextAssertion) by it. Channel IDs are
// unique across the connections of one Server.
func ChannelFromContext(ctx context.Context) (uint32, bool) {
	cid, ok := ctx.Value(channelKey{}).(uint32)
	return cid, ok
}
