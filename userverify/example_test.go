package userverify_test

import (
	"context"
	"errors"
	"fmt"
	"log/slog"

	"github.com/passkeyd/passkeyd/userverify"
)

// A test scripts what the user answers, runs the code under test, and checks
// what the user was asked.
func ExampleMock() {
	uv := userverify.NewMock(userverify.ErrDenied) // the first request is denied,
	uv.SetDefault(nil)                             // every later one verified

	ctx := context.Background()
	req := userverify.Request{
		Operation: userverify.OpGetAssertion,
		RPID:      "example.com",
		UserName:  "alice",
		Reason:    "Sign in to example.com as alice",
	}
	fmt.Println(errors.Is(uv.Verify(ctx, req), userverify.ErrDenied))
	fmt.Println(uv.Verify(ctx, req))
	fmt.Println(uv.Calls(), uv.Requests()[0].RPID)
	// Output:
	// true
	// <nil>
	// 2 example.com
}

// The --uv flag names a chain; when no method can ask, the chain says so.
func ExampleParse() {
	uv, err := userverify.Parse("mock, deny", userverify.Deps{
		Mock:   userverify.NewMock(userverify.ErrUnavailable),
		Logger: slog.New(slog.DiscardHandler),
	})
	if err != nil {
		panic(err)
	}
	fmt.Println(userverify.Describe(uv), userverify.IsUnattended(uv))
	err = uv.Verify(context.Background(), userverify.Request{Operation: userverify.OpMakeCredential})
	fmt.Println(errors.Is(err, userverify.ErrDenied))
	// Output:
	// mock,deny true
	// true
}
