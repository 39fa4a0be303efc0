class AvailabilityZoneFilter:
    """Only pools in the requested availability zone."""

    def passes(self, pool, spec):
        az = spec.get('availability_zone')
        return not az or pool.availability_zone == az
