// Package shifts owns Warden's business-calendar arithmetic: org business hours, member shifts, breaks and holidays turned into real-time working intervals, availability checks and "plus N working minutes" deadlines, with no I/O.
package shifts
