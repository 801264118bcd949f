package shifts

import (
	"errors"
	"testing"
	"time"
)

func TestValidation(t *testing.T) {
	nineToFive := []DayHours{{time.Monday, lt("09:00"), lt("17:00")}}
	tests := []struct {
		name      string
		build     func() (*Calendar, error)
		wantField string // "" = must succeed
	}{
		{"unknown zone", func() (*Calendar, error) {
			return NewShiftCalendar("Mars/Base", nineToFive, nil, nil, nil)
		}, "zone"},
		{"empty zone", func() (*Calendar, error) {
			return NewShiftCalendar("", nineToFive, nil, nil, nil)
		}, "zone"},
		{"host-dependent Local zone", func() (*Calendar, error) {
			return NewBusinessHours(TwentyFourSeven, "Local", time.Monday, nil, nil, nil)
		}, "zone"},
		{"break outside shift", func() (*Calendar, error) {
			return NewShiftCalendar("UTC", nineToFive, []Break{{lt("08:00"), lt("09:30")}}, nil, nil)
		}, "breaks[0]"},
		{"break past shift end", func() (*Calendar, error) {
			return NewShiftCalendar("UTC", nineToFive, []Break{{lt("16:30"), lt("17:01")}}, nil, nil)
		}, "breaks[0]"},
		{"break fits one day but not another", func() (*Calendar, error) {
			days := append([]DayHours{{time.Saturday, lt("13:00"), lt("17:00")}}, nineToFive...)
			return NewShiftCalendar("UTC", days, []Break{{lt("12:00"), lt("12:30")}}, nil, nil)
		}, "breaks[0]"},
		{"zero-length break", func() (*Calendar, error) {
			return NewShiftCalendar("UTC", nineToFive, []Break{{lt("12:00"), lt("12:00")}}, nil, nil)
		}, "breaks[0]"},
		{"break crossing midnight in a day shift", func() (*Calendar, error) {
			return NewShiftCalendar("UTC", nineToFive, []Break{{lt("16:00"), lt("10:00")}}, nil, nil)
		}, "breaks[0]"},
		{"three breaks", func() (*Calendar, error) {
			return NewShiftCalendar("UTC", nineToFive, []Break{{lt("10:00"), lt("10:15")}, {lt("12:00"), lt("12:30")}, {lt("15:00"), lt("15:15")}}, nil, nil)
		}, "breaks"},
		{"second break invalid", func() (*Calendar, error) {
			return NewShiftCalendar("UTC", nineToFive, []Break{{lt("10:00"), lt("10:15")}, {lt("18:00"), lt("18:30")}}, nil, nil)
		}, "breaks[1]"},
		{"end equals start", func() (*Calendar, error) {
			return NewShiftCalendar("UTC", []DayHours{{time.Monday, lt("09:00"), lt("09:00")}}, nil, nil, nil)
		}, "days[0]"},
		{"00:00 to 00:00 is zero-length too", func() (*Calendar, error) {
			return NewShiftCalendar("UTC", []DayHours{{time.Monday, lt("00:00"), lt("00:00")}}, nil, nil, nil)
		}, "days[0]"},
		{"day listed twice", func() (*Calendar, error) {
			return NewShiftCalendar("UTC", []DayHours{{time.Monday, lt("09:00"), lt("12:00")}, {time.Monday, lt("13:00"), lt("17:00")}}, nil, nil, nil)
		}, "days[1]"},
		{"no working days", func() (*Calendar, error) {
			return NewShiftCalendar("UTC", nil, nil, nil, nil)
		}, "days"},
		{"custom with no hours", func() (*Calendar, error) {
			return NewBusinessHours(Custom, "UTC", time.Monday, nil, nil, nil)
		}, "days"},
		{"custom same hours with no days", func() (*Calendar, error) {
			return NewBusinessHours(Custom, "UTC", time.Monday, &DayRange{Start: lt("09:00"), End: lt("17:00")}, nil, nil)
		}, "days"},
		{"custom with both forms", func() (*Calendar, error) {
			return NewBusinessHours(Custom, "UTC", time.Monday, &DayRange{Days: weekdays, Start: lt("09:00"), End: lt("17:00")}, nineToFive, nil)
		}, "sameHours"},
		{"unknown kind", func() (*Calendar, error) {
			return NewBusinessHours("NINE_TO_FIVE", "UTC", time.Monday, nil, nil, nil)
		}, "kind"},
		{"week start out of range", func() (*Calendar, error) {
			return NewBusinessHours(TwentyFourSeven, "UTC", 7, nil, nil, nil)
		}, "weekStart"},
		{"weekday out of range", func() (*Calendar, error) {
			return NewShiftCalendar("UTC", []DayHours{{9, lt("09:00"), lt("17:00")}}, nil, nil, nil)
		}, "days[0]"},
		{"hour 25 in a struct literal", func() (*Calendar, error) {
			return NewShiftCalendar("UTC", []DayHours{{time.Monday, LocalTime{25, 0}, lt("17:00")}}, nil, nil, nil)
		}, "days[0]"},
		{"24:00 as a start", func() (*Calendar, error) {
			return NewShiftCalendar("UTC", []DayHours{{time.Monday, lt("24:00"), lt("06:00")}}, nil, nil, nil)
		}, "days[0]"},
		{"impossible holiday date", func() (*Calendar, error) {
			return NewShiftCalendar("UTC", nineToFive, nil, []Date{{2026, time.February, 30}}, nil)
		}, "holidays[0]"},

		{"valid: midnight-crossing shift with midnight-crossing break", func() (*Calendar, error) {
			return NewShiftCalendar("UTC", []DayHours{{time.Friday, lt("22:00"), lt("06:00")}}, []Break{{lt("23:30"), lt("00:30")}, {lt("03:00"), lt("03:30")}}, nil, nil)
		}, ""},
		{"valid: 00:00 to 24:00 full day with break ending at 24:00", func() (*Calendar, error) {
			return NewShiftCalendar("UTC", []DayHours{{time.Sunday, lt("00:00"), lt("24:00")}}, []Break{{lt("23:00"), lt("24:00")}}, nil, nil)
		}, ""},
		{"valid: breaks exactly at the edges", func() (*Calendar, error) {
			return NewShiftCalendar("UTC", nineToFive, []Break{{lt("09:00"), lt("09:15")}, {lt("16:45"), lt("17:00")}}, nil, nil)
		}, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c, err := tc.build()
			if tc.wantField == "" {
				if err != nil || c == nil {
					t.Fatalf("got %v, want success", err)
				}
				return
			}
			var ve *ValidationError
			if !errors.As(err, &ve) {
				t.Fatalf("err = %v (%T), want *ValidationError", err, err)
			}
			if ve.Field != tc.wantField {
				t.Errorf("Field = %q, want %q (reason: %s)", ve.Field, tc.wantField, ve.Reason)
			}
			if c != nil {
				t.Error("calendar returned together with an error")
			}
		})
	}

	t.Run("negative minutes", func(t *testing.T) {
		c := mustBusiness(t, TwentyFourSeven, "UTC", time.Monday, nil, nil, nil)
		var ve *ValidationError
		if _, err := c.AddWorkingMinutes(time.Now(), -1); !errors.As(err, &ve) || ve.Field != "minutes" {
			t.Errorf("err = %v, want ValidationError on minutes", err)
		}
	})
}

func TestParseLocalTime(t *testing.T) {
	tests := []struct {
		in   string
		want LocalTime
		ok   bool
	}{
		{"00:00", LocalTime{0, 0}, true},
		{"09:05", LocalTime{9, 5}, true},
		{"23:59", LocalTime{23, 59}, true},
		{"24:00", LocalTime{24, 0}, true},
		{"24:01", LocalTime{}, false},
		{"25:00", LocalTime{}, false},
		{"12:60", LocalTime{}, false},
		{"9:00", LocalTime{}, false},
		{"09:00:00", LocalTime{}, false},
		{"", LocalTime{}, false},
		{"ab:cd", LocalTime{}, false},
		{"12-00", LocalTime{}, false},
		{"-1:00", LocalTime{}, false},
		{"+9:00", LocalTime{}, false},
	}
	for _, tc := range tests {
		t.Run(tc.in, func(t *testing.T) {
			got, err := ParseLocalTime(tc.in)
			if !tc.ok {
				var ve *ValidationError
				if !errors.As(err, &ve) {
					t.Fatalf("ParseLocalTime(%q) = %v, %v; want ValidationError", tc.in, got, err)
				}
				return
			}
			if err != nil || got != tc.want {
				t.Fatalf("ParseLocalTime(%q) = %v, %v; want %v", tc.in, got, err, tc.want)
			}
			if got.String() != tc.in {
				t.Errorf("String() = %q, want %q", got.String(), tc.in)
			}
		})
	}
}

func TestParseDate(t *testing.T) {
	tests := []struct {
		in   string
		want Date
		ok   bool
	}{
		{"2026-03-08", Date{2026, time.March, 8}, true},
		{"2028-02-29", Date{2028, time.February, 29}, true},
		{"2026-02-29", Date{}, false},
		{"2026-13-01", Date{}, false},
		{"2026-3-8", Date{}, false},
		{"", Date{}, false},
	}
	for _, tc := range tests {
		t.Run(tc.in, func(t *testing.T) {
			got, err := ParseDate(tc.in)
			if !tc.ok {
				var ve *ValidationError
				if !errors.As(err, &ve) {
					t.Fatalf("ParseDate(%q) = %v, %v; want ValidationError", tc.in, got, err)
				}
				return
			}
			if err != nil || got != tc.want || got.String() != tc.in {
				t.Fatalf("ParseDate(%q) = %v, %v; want %v", tc.in, got, err, tc.want)
			}
		})
	}
}

func FuzzParseLocalTime(f *testing.F) {
	for _, s := range []string{"00:00", "09:30", "23:59", "24:00", "24:01", "25:00", "12:60", "9:00", "", ":", "ab:cd", "-1:00", "１２:００", "99:99", "12:00\x00"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		lt, err := ParseLocalTime(s)
		if err != nil {
			var ve *ValidationError
			if !errors.As(err, &ve) {
				t.Fatalf("error %v is not a ValidationError", err)
			}
			return
		}
		if !lt.valid() {
			t.Fatalf("ParseLocalTime(%q) accepted out-of-range %+v", s, lt)
		}
		if lt.String() != s {
			t.Fatalf("round trip: ParseLocalTime(%q).String() = %q", s, lt.String())
		}
		if again, err := ParseLocalTime(lt.String()); err != nil || again != lt {
			t.Fatalf("re-parse of %q = %v, %v", lt.String(), again, err)
		}
	})
}
