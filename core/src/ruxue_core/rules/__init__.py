"""Pure functions over verified facts: identity numbers, age eligibility, case codes."""
