import pytest

# Plain `assert` in the shared helpers reports its operands, as it does in test modules: pytest rewrites
# only test modules and conftest.py files unless told, and these names are imported after this package.
pytest.register_assert_rewrite("tests.support", "tests.billing.money_helpers")
