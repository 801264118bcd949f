package records

import (
	"crypto/hmac"
	"crypto/sha256"
	"strconv"
)

// ForViewer returns the codec of one viewer: its key is derived from c's and
// the viewer's member key, so a cursor is refused for any other viewer, as
// it is in any other org (Cursor.Org), list or ordering. A cursor carries
// the sort values of a row its viewer saw; bound to that viewer, it cannot
// serve as a position for anyone else.
func (c CursorCodec) ForViewer(member int64) CursorCodec {
	mac := hmac.New(sha256.New, c.Secret)
	mac.Write([]byte("warden cursor viewer " + strconv.FormatInt(member, 10)))
	return CursorCodec{Secret: mac.Sum(nil)}
}
